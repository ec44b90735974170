"""The engine: one text in, the next state and the replies out.

`conversation.step(state, text, flows, context, now)` is pure: no Flask, no database, no
files, no clock. `flows` (the YAML flows, keyword tables and text model, loaded once),
`context` (the place resolver, built once) and `now` come from the caller.
Parts: `conversation` (step), `matching` (reading a text), `flows` (loading and checking the
YAML), `model` (the learned text model), `places` (towns and ZIP codes), `sms` (segments),
`words` (the common words typo correction leaves alone).
"""
