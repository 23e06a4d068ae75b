"""Email over SMTP (plain, STARTTLS or implicit TLS), with a Message-ID made from the row's key.

SMTP has no idempotency header, but the ``Message-ID`` derived from the idempotency key is the
same on every attempt: mail systems and clients that deduplicate on it (many do) show a resend
after a crash once, and a person can see it is the same message.

SMTP replies are sorted for the relay: 4xx and dropped connections are temporary; 5xx on the
recipient or the data is permanent. An authentication failure is treated as temporary: it is a
configuration problem that a person will fix, not a reason to lose every queued message.
"""

from __future__ import annotations

import enum
import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from dispatcher.clock import Clock
from dispatcher.messaging.channels import SendResult, resolve_secret
from dispatcher.model.messaging import OutboxMessage


class SmtpSecurity(enum.StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    SSL = "ssl"


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to send mail. The password is read from ``password_env`` or the keyring.

    ``username`` empty means no authentication (a local relay). ``sender`` is the From
    address; ``sender_name`` its display name; ``message_id_domain`` defaults to the
    sender's domain.
    """

    host: str
    port: int = 587
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    sender: str = "dispatch@example.com"
    sender_name: str = ""
    username: str = ""
    password_env: str = "DISPATCHER_SMTP_PASSWORD"
    keyring_service: str = ""
    timeout_s: float = 20.0
    message_id_domain: str = ""
    reply_to: str = ""


def message_id_for(idempotency_key: str, domain: str) -> str:
    """The RFC 5322 Message-ID of a row: the same key always gives the same id."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


class SmtpEmailChannel:
    """Send one outbox row as a text + HTML email."""

    def __init__(
        self, config: SmtpConfig, clock: Clock, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._config = config
        self._clock = clock
        self._ssl = ssl_context

    def build(self, message: OutboxMessage) -> EmailMessage:
        """The email as it will be sent (also useful for a preview)."""
        cfg = self._config
        domain = cfg.message_id_domain or cfg.sender.rpartition("@")[2] or "dispatcher.local"
        mail = EmailMessage()
        mail["From"] = formataddr((cfg.sender_name, cfg.sender)) if cfg.sender_name else cfg.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject or "(no subject)"
        mail["Date"] = format_datetime(self._clock.now())
        mail["Message-ID"] = message_id_for(message.idempotency_key, domain)
        mail["X-Idempotency-Key"] = message.idempotency_key
        if cfg.reply_to:
            mail["Reply-To"] = cfg.reply_to
        mail.set_content(message.body)
        if message.body_html:
            mail.add_alternative(message.body_html, subtype="html")
        return mail

    def send(self, message: OutboxMessage) -> SendResult:
        cfg = self._config
        try:
            mail = self.build(message)
        except (ValueError, TypeError) as exc:
            return SendResult.permanent(f"cannot build the email: {exc}")
        try:
            with self._connect() as smtp:
                if cfg.username:
                    password = resolve_secret(cfg.password_env, cfg.keyring_service, cfg.username)
                    if password is None:
                        return SendResult.temporary(
                            f"no SMTP password (set {cfg.password_env} or use the keyring)"
                        )
                    smtp.login(cfg.username, password)
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            return SendResult.temporary(f"SMTP login refused: {exc.smtp_code} {_text(exc)}")
        except smtplib.SMTPRecipientsRefused as exc:
            return _classify_refusal(exc)
        except smtplib.SMTPResponseException as exc:
            error = f"SMTP server answered {exc.smtp_code} {_text(exc)}"
            if 400 <= exc.smtp_code < 500:
                return SendResult.temporary(error)
            return SendResult.permanent(error)
        except (smtplib.SMTPException, OSError) as exc:
            return SendResult.temporary(f"SMTP server unreachable: {exc}")
        return SendResult.accepted(str(mail["Message-ID"]))

    def _connect(self) -> smtplib.SMTP:
        cfg = self._config
        if cfg.security is SmtpSecurity.SSL:
            context = self._ssl or ssl.create_default_context()
            return smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_s, context=context)
        smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s)
        if cfg.security is SmtpSecurity.STARTTLS:
            try:
                smtp.starttls(context=self._ssl or ssl.create_default_context())
            except BaseException:
                smtp.close()
                raise
        return smtp


def _text(exc: smtplib.SMTPResponseException) -> str:
    raw = exc.smtp_error
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _classify_refusal(exc: smtplib.SMTPRecipientsRefused) -> SendResult:
    codes = [code for code, _ in exc.recipients.values()]
    detail = "; ".join(
        f"{rcpt}: {code} {msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else msg}"
        for rcpt, (code, msg) in exc.recipients.items()
    )
    if codes and all(400 <= code < 500 for code in codes):
        return SendResult.temporary(f"recipient deferred: {detail}")
    return SendResult.permanent(f"recipient refused: {detail}")
