"""Batch on a fleet of Celery workers (the `smtp-probe[cluster]` extra), polite fleet-wide through Redis.

- payload: the JSON task (one probe.run.bulk unit, its options and its judgement), validated by the worker;
- fleet: the Redis backend of probe.smtp.polite.HostLimiter (per-host slots and backoff shared by every worker);
- worker: the Celery app, its safe settings, and the task that runs probe.run.bulk.probe_unit;
- client: sends a batch's units to the workers and gathers their results for probe.run.batch.run_batch;
- commands: the `worker` command and the `batch --broker` glue.

Celery and redis are imported only here, and only when a cluster command runs.
"""
