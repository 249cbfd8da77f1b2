"""Document builders: turn canonical data into small, meaningful texts for the vector tables.

Never one vector per tick: one document per event name (protocol.py), per game (games.py), per trade /
side bet / chat message / system event (feed.py), per CONTEXT.md section and per decision record or
note (repo.py); the shared Doc row and helpers are in common.py. Every builder is deterministic
(sorted input, stable ids), so two full builds give the same ids and texts.
"""
