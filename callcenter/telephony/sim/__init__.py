"""Building blocks of the softswitch simulator; the public entry is ``telephony.simulator``.

- ``script``: scripted patients (``PatientScript``) and how dialled numbers find them.
- ``audio``: WAV reading, resampling and writing with the standard library only.
- ``channel``: a simulated channel (state, caller profile, variables).
- ``events``: FreeSWITCH 1.10 event header sets, in the order of the captures.
- ``calls``: originate, answer, hang up, bridge, record, DTMF.
- ``apps``: dialplan applications run on a channel (park, playback, play_and_get_digits, ...).
- ``api``: ``api`` / ``bgapi`` commands.
- ``server``: event-socket connections, inbound (clients) and outbound (``socket`` app).
"""
