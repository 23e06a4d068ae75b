"""The desk's side of the driver app: pairing phones, proof of delivery, driver messages."""
