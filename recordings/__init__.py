"""Recording storage and audio handling; imports neither Flask nor callcenter."""
