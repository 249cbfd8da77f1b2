"""Document builders: turn canonical data into small, meaningful texts for the vector tables.

Never one vector per tick: one document per event name (protocol.py), per game (games.py), per game and
player for trades and for side bets (player_games.py), per chat message / system event (feed.py), per
CONTEXT.md section and per decision record or note (repo.py); the shared Doc row, helpers and
DOCS_VERSION are in common.py. Every builder is deterministic
(sorted input, stable ids), so two full builds give the same ids and texts.
"""
