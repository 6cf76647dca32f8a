"""Callbacks: a caller who cannot wait, or calls out of hours, is called back by a counselor.

`rules` decides whether a number may be called (pure); `limits` is the webhook's one Redis
round trip; `store` turns `callback_requested` events into Callback rows; `runner` offers due
callbacks to counselors through the routing board and dials the caller.
"""
