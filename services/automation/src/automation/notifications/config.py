"""Notification settings from the environment (``SMTP_*``, ``SMS_*``, ``NOTIFICATION_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from automation.notifications.sms import (
    ConsoleSmsProvider,
    SmsProvider,
    SmsSender,
    TwilioSmsProvider,
)
from automation.notifications.smtp import SmtpSettings


class NotificationSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # SMTP_USE_TLS (default true, as documented): implicit TLS on port 465, STARTTLS
    # required on any other port; SMTP_START_TLS overrides the STARTTLS choice
    smtp_use_tls: bool = True
    smtp_start_tls: bool | None = None
    smtp_validate_certs: bool = True
    smtp_cert_bundle: str | None = None
    smtp_timeout: float = Field(default=30.0, gt=0)
    smtp_from: str = "noreply@localhost"

    # comma-separated, tried in order: "twilio,console"
    sms_providers: str = "console"
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    sms_timeout: float = Field(default=10.0, gt=0)

    # waits before each retry of a failed send (exponential by default)
    notification_retry_schedule: str = "0,30,120,600,3600"
    notification_retry_jitter: float = Field(default=0.1, ge=0, lt=1)
    # "<n>/<period>" as the `limits` library parses them; empty disables
    notification_rate_limit_email: str = "600/minute"
    notification_rate_limit_sms: str = "120/minute"
    notification_rate_limit_per_recipient: str = "20/hour"
    notification_max_recipients: int = Field(default=100, ge=1)
    notification_lease_seconds: float = Field(default=120.0, gt=0)
    notification_max_countdown_seconds: float = Field(default=60.0, ge=0)

    def smtp(self) -> SmtpSettings:
        implicit = self.smtp_use_tls and self.smtp_port == 465
        start_tls = self.smtp_start_tls
        if start_tls is None:
            start_tls = self.smtp_use_tls and not implicit
        return SmtpSettings(
            host=self.smtp_host, port=self.smtp_port, username=self.smtp_username,
            password=self.smtp_password, use_tls=implicit, start_tls=start_tls,
            validate_certs=self.smtp_validate_certs,
            cert_bundle=self.smtp_cert_bundle, timeout=self.smtp_timeout, sender=self.smtp_from,
        )  # fmt: skip

    def sms_sender(self) -> SmsSender:
        providers: list[SmsProvider] = []
        for name in (p.strip().lower() for p in self.sms_providers.split(",")):
            if name == "twilio":
                providers.append(TwilioSmsProvider(
                    self.twilio_account_sid, self.twilio_auth_token.get_secret_value(),
                    from_number=self.twilio_from_number,
                    messaging_service_sid=self.twilio_messaging_service_sid,
                    base_url=self.twilio_base_url, timeout=self.sms_timeout,
                ))  # fmt: skip
            elif name == "console":
                providers.append(ConsoleSmsProvider())
            elif name:
                raise ValueError(f"SMS_PROVIDERS: unknown provider {name!r} (twilio, console)")
        return SmsSender(providers)
