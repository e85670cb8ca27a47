"""The scheduler: claims due posts under leases, fires them on time, publishes.

`loop` owns the ticks and timers, `dispatch` publishes one claimed post to
its platforms, `retry` decides what a failed platform call deserves. Every
database operation it needs is in `syndic.db.repo.leases`.
"""
