//! The job queue in PostgreSQL (`jobs`): claimed with `FOR UPDATE SKIP LOCKED`, so
//! workers never wait for each other nor take the same job, and leased: a lease not
//! renewed runs out and the job is claimable again.

use super::schema::NOW;
use crate::store::{
    Finished, Job, JobOutcome, JobQueue, MAX_JOB_ATTEMPTS, QueueFailure, QueueStatus, QueueWorker,
    StoreError,
};
use postgres::{Client, GenericClient, NoTls};
use std::path::Path;
use std::time::Duration;

/// Paths queued per statement.
const ENQUEUE_BATCH: usize = 1_000;

pub struct PgQueue {
    /// `status` reads through `&self`, the client needs `&mut`: see `PostgresStore`.
    client: std::cell::RefCell<Client>,
    max_attempts: u32,
}

impl PgQueue {
    pub fn open(url: &str) -> Result<PgQueue, StoreError> {
        let name = crate::location::display(Path::new(url));
        let mut client = Client::connect(url, NoTls).map_err(|e| StoreError::Open {
            path: name.clone(),
            source: super::pg_error(e),
        })?;
        super::schema::migrate(&mut client, &name)?;
        Ok(PgQueue {
            client: std::cell::RefCell::new(client),
            max_attempts: MAX_JOB_ATTEMPTS,
        })
    }
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl JobQueue for PgQueue {
    fn enqueue(&mut self, paths: &[String]) -> Result<(u64, u64), StoreError> {
        let mut queued = 0;
        for chunk in paths.chunks(ENQUEUE_BATCH) {
            queued += self.client.get_mut().execute(
                "INSERT INTO jobs (path) SELECT unnest($1::text[])
                 ON CONFLICT (path) WHERE state IN ('pending', 'running') DO NOTHING",
                &[&chunk],
            )?;
        }
        Ok((queued, paths.len() as u64 - queued))
    }

    fn claim(&mut self, worker: &str, max: usize, lease: Duration) -> Result<Vec<Job>, StoreError> {
        let mut tx = self.client.get_mut().transaction()?;
        // Jobs that lost their worker MAX_JOB_ATTEMPTS times: a file that kills whoever
        // reads it (or a machine that keeps failing) is not tried forever.
        tx.execute(
            &format!(
                "UPDATE jobs SET state = 'failed', finished_at = {NOW}, worker = NULL,
                     error = 'given up: the worker reading it was lost ' || attempts
                             || ' times (killed, crashed or cut off) before it finished'
                 WHERE id IN (SELECT id FROM jobs
                              WHERE state = 'running' AND lease_until < now() AND attempts >= $1
                              FOR UPDATE SKIP LOCKED)"
            ),
            &[&i64::from(self.max_attempts)],
        )?;
        let claim = |tx: &mut postgres::Transaction<'_>, condition: &str, limit: i64| {
            tx.query(
                &format!(
                    "UPDATE jobs j SET state = 'running', worker = $1, attempts = attempts + 1,
                         lease_until = now() + make_interval(secs => $2), started_at = {NOW}
                     FROM (SELECT id FROM jobs WHERE {condition}
                           ORDER BY id FOR UPDATE SKIP LOCKED LIMIT $3) picked
                     WHERE j.id = picked.id
                     RETURNING j.id, j.path, j.attempts"
                ),
                &[&worker, &seconds(lease), &limit],
            )
        };
        let mut rows = claim(&mut tx, "state = 'running' AND lease_until < now()", 1)?;
        if rows.is_empty() {
            rows = claim(&mut tx, "state = 'pending'", max.max(1) as i64)?;
        }
        tx.commit()?;
        let mut jobs: Vec<Job> = rows
            .iter()
            .map(|r| Job {
                id: r.get(0),
                path: r.get(1),
                attempts: r.get::<_, i64>(2) as u32,
            })
            .collect();
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    fn renew(&mut self, worker: &str, ids: &[i64], lease: Duration) -> Result<u64, StoreError> {
        Ok(self.client.get_mut().execute(
            "UPDATE jobs SET lease_until = now() + make_interval(secs => $3)
             WHERE id = ANY($2) AND worker = $1 AND state = 'running'",
            &[&worker, &ids, &seconds(lease)],
        )?)
    }

    fn finish(
        &mut self,
        worker: &str,
        job: &Job,
        outcome: &JobOutcome,
    ) -> Result<Finished, StoreError> {
        let c = self.client.get_mut();
        if end_job(c, worker, job, outcome, self.max_attempts)? {
            return Ok(Finished::Now);
        }
        // Ended by the transaction that stored the document, or taken over.
        let row = c.query_opt(
            "SELECT state FROM jobs WHERE id = $1 AND worker = $2 AND attempts = $3
                 AND state IN ('done', 'failed')",
            &[&job.id, &worker, &i64::from(job.attempts)],
        )?;
        Ok(match row {
            Some(r) => Finished::Already {
                done: r.get::<_, String>(0) == "done",
            },
            None => Finished::Lost,
        })
    }

    fn give_back(&mut self, worker: &str) -> Result<u64, StoreError> {
        Ok(self.client.get_mut().execute(
            "UPDATE jobs SET state = 'pending', worker = NULL, lease_until = NULL,
                 attempts = greatest(attempts - 1, 0)
             WHERE worker = $1 AND state = 'running'",
            &[&worker],
        )?)
    }

    fn set_max_attempts(&mut self, attempts: u32) {
        self.max_attempts = attempts.max(1);
    }

    fn status(&self, failures: usize) -> Result<QueueStatus, StoreError> {
        let c = &mut *self.client.borrow_mut();
        let mut status = QueueStatus::default();
        for row in c.query("SELECT state, count(*) FROM jobs GROUP BY state", &[])? {
            let (state, count): (String, i64) = (row.get(0), row.get(1));
            let count = count as u64;
            match state.as_str() {
                "pending" => status.pending = count,
                "running" => status.running = count,
                "done" => status.done = count,
                _ => status.failed = count,
            }
        }
        status.workers = c
            .query(
                "SELECT worker, count(*),
                        extract(epoch FROM min(lease_until) - now())::double precision
                 FROM jobs WHERE state = 'running' GROUP BY worker ORDER BY worker",
                &[],
            )?
            .iter()
            .map(|r| QueueWorker {
                worker: r.get(0),
                jobs: r.get::<_, i64>(1) as u64,
                lease_seconds_left: r.get(2),
            })
            .collect();
        status.failures = c
            .query(
                "SELECT path, attempts, COALESCE(error, ''), COALESCE(finished_at, '')
                 FROM jobs WHERE state = 'failed' ORDER BY id DESC LIMIT $1",
                &[&(failures as i64)],
            )?
            .iter()
            .map(|r| QueueFailure {
                path: r.get(0),
                attempts: r.get::<_, i64>(1) as u32,
                reason: r.get(2),
                at: r.get(3),
            })
            .collect();
        Ok(status)
    }
}

/// Ends `worker`'s attempt at `job` as `outcome` says, if the job is still that attempt's
/// (a job queued again after `max_attempts` attempts fails instead). Whether it did.
pub(super) fn end_job(
    c: &mut impl GenericClient,
    worker: &str,
    job: &Job,
    outcome: &JobOutcome,
    max_attempts: u32,
) -> Result<bool, StoreError> {
    let (state, document_id, error) = match outcome {
        JobOutcome::Done { document_id } => ("done", *document_id, None),
        JobOutcome::Retry { reason } => ("pending", None, Some(reason.as_str())),
        JobOutcome::Failed { reason } => ("failed", None, Some(reason.as_str())),
    };
    let ended = c.execute(
        &format!(
            "UPDATE jobs SET
                 state = CASE WHEN $3 = 'pending' AND attempts >= $6 THEN 'failed' ELSE $3 END,
                 document_id = $4, error = $5, lease_until = NULL,
                 worker = CASE WHEN $3 = 'pending' THEN NULL ELSE worker END,
                 finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE {NOW} END
             WHERE id = $1 AND worker = $2 AND attempts = $7 AND state = 'running'"
        ),
        &[
            &job.id,
            &worker,
            &state,
            &document_id,
            &error,
            &i64::from(max_attempts),
            &i64::from(job.attempts),
        ],
    )?;
    Ok(ended == 1)
}

/// Whether `job` is still `worker`'s attempt; if so its row stays locked until the
/// caller's transaction ends, so no other worker can claim it in between.
pub(super) fn hold_job(
    c: &mut impl GenericClient,
    worker: &str,
    job: &Job,
) -> Result<bool, StoreError> {
    Ok(c.query_opt(
        "SELECT 1 FROM jobs WHERE id = $1 AND worker = $2 AND attempts = $3
                 AND state = 'running' FOR UPDATE",
        &[&job.id, &worker, &i64::from(job.attempts)],
    )?
    .is_some())
}
