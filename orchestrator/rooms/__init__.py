"""Rooms: the orchestrator as gatekeeper of the video platform's rooms (Jitsi reservations)."""
