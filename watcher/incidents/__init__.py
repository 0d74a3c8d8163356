"""Incidents: one problem many customers write about, handled once.

detect.py joins arriving posts to an open incident (no card of their own) or suggests a
new one from a burst; fanout.py answers everyone affected through the queue's
exactly-once send; promises.py checks every draft and statement for promises the brand
must not make without approval.
"""
