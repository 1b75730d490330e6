"""Email (SMTP) and SMS notifications with sandboxed Jinja2 templates."""

from automation.notifications.sms import (
    AllProvidersFailed,
    ConsoleSmsProvider,
    SmsError,
    SmsProvider,
    SmsReceipt,
    SmsSender,
    TwilioSmsProvider,
    check_sms,
)
from automation.notifications.smtp import (
    Attachment,
    Email,
    EmailDeliveryError,
    SmtpEmailSender,
    SmtpSettings,
    build_message,
)
from automation.notifications.templates import (
    CheckedTemplate,
    MissingTemplateVariable,
    TemplateError,
    TemplateRenderer,
    TemplateSecurityProblem,
    TemplateSyntaxProblem,
)

__all__ = [
    "AllProvidersFailed",
    "Attachment",
    "CheckedTemplate",
    "ConsoleSmsProvider",
    "Email",
    "EmailDeliveryError",
    "MissingTemplateVariable",
    "SmsError",
    "SmsProvider",
    "SmsReceipt",
    "SmsSender",
    "SmtpEmailSender",
    "SmtpSettings",
    "TemplateError",
    "TemplateRenderer",
    "TemplateSecurityProblem",
    "TemplateSyntaxProblem",
    "TwilioSmsProvider",
    "build_message",
    "check_sms",
]
