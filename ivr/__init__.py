"""IVR: automated calls as small flows over FreeSWITCH's outbound event socket."""
