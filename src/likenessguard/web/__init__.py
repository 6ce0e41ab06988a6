"""The review web app: queue, cases, decisions, audit log and takedown requests."""
