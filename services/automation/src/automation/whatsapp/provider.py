"""The ``whatsapp`` integration provider: which fields a tenant sets, which are secret."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from automation.integrations.providers import Provider, register

PHONE_NUMBER_ID = r"^[0-9]{5,40}$"  # pydantic's (Rust) regex: $ is the end of the text


class WhatsAppSecrets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access_token: str = Field(
        min_length=16, max_length=1000, description="a system-user access token for the number"
    )
    app_secret: str = Field(
        min_length=8, max_length=200, description="the Meta app secret (signs the webhooks)"
    )
    verify_token: str = Field(
        min_length=8, max_length=200, description="the token Meta echoes in the handshake"
    )


class WhatsAppSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone_number_id: str = Field(
        pattern=PHONE_NUMBER_ID, description="the business phone number id steps send from"
    )


WHATSAPP = register(
    Provider(
        "whatsapp",
        "WhatsApp Cloud API: the number steps send from and the webhook's secrets",
        secrets=WhatsAppSecrets,
        settings=WhatsAppSettings,
    )
)
