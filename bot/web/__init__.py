"""The web face: POST /sms and GET /healthz (`webhook`), the Twilio edge (`twilio`), flood and
lockout limits (`ratelimit`, `lockout`), replies as messages (`replies`), the dashboard
(`admin`), the background upkeep (`upkeep`) and the gunicorn worker (`serving`)."""
