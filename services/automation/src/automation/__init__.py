"""The automation service: workflows, rules, events, notifications and signed webhooks."""
