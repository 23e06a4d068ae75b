"""Who works at the desks: the OS login mapped to a user (:mod:`dispatcher.users.desk`).

The roles and the permission table every room checks are :mod:`dispatcher.model.users`.
"""
