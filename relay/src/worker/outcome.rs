//! What an attempt at a job comes to, in the shape complete_job and fail_job take it. Decided
//! here, apart from the calls, so that each outcome the queue sees can be tested.
use crate::clients::Failure;
use serde_json::{json, Value};
use std::time::Duration;

/// A job's result for complete_job, or its error and retry delay (None: for good) for fail_job.
pub type Report = Result<Value, (Value, Option<i32>)>;

/// A failed call: its error, and when to try again (see `Failure::retry_in`: never when
/// retrying cannot help, at once for a refused token so that fail_job pauses the tenant, else
/// after the backoff of this attempt).
pub fn failed(failure: &Failure, attempt: i64, retry_base: Duration) -> Report {
    Err((failure.to_json(), failure.retry_in(attempt, retry_base)))
}

/// A claimed job that does not read as its kind requires: no attempt can fix it.
pub fn malformed(reason: &str) -> Report {
    Err((json!({"class": "permanent", "message": reason}), None))
}

/// A job still running when the grace period ran out: handed back to be claimed again at once.
pub fn handed_back() -> Report {
    let error = json!({"class": "transient", "message": "the relay shut down during this attempt"});
    Err((error, Some(0)))
}

/// The jobs metric's label of a report.
pub fn label(report: &Report) -> &'static str {
    match report {
        Ok(_) => "completed",
        Err((_, Some(_))) => "retried",
        Err((_, None)) => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::Class;

    const BASE: Duration = Duration::from_secs(2);

    #[test]
    fn a_permanent_failure_fails_for_good_with_its_error() {
        let failure = Failure {
            code: Some(131026),
            http_status: Some(400),
            ..Failure::new(Class::Permanent, "not a WhatsApp number")
        };
        let report = failed(&failure, 1, BASE);
        let Err((error, retry)) = &report else {
            panic!("a failure is not a result")
        };
        assert_eq!(*retry, None);
        assert_eq!(error["class"], "permanent");
        assert_eq!(error["code"], 131026);
        assert_eq!(error["http_status"], 400);
        assert_eq!(error["message"], "not a WhatsApp number");
        assert_eq!(label(&report), "failed");
    }

    #[test]
    fn a_refused_token_is_retried_at_once_so_that_fail_job_pauses_the_tenant() {
        let report = failed(&Failure::new(Class::Auth, "token expired"), 3, BASE);
        let Err((error, retry)) = &report else {
            panic!()
        };
        assert_eq!((*retry, error["class"].as_str()), (Some(0), Some("auth")));
        assert_eq!(label(&report), "retried");
    }

    #[test]
    fn transient_and_throttled_failures_wait_the_backoff_of_their_attempt() {
        for class in [Class::Transient, Class::Throttle] {
            let Err((_, Some(first))) = failed(&Failure::new(class, "x"), 1, BASE) else {
                panic!("{class:?} is retried")
            };
            let Err((_, Some(fourth))) = failed(&Failure::new(class, "x"), 4, BASE) else {
                panic!("{class:?} is retried")
            };
            // 2 s and 16 s, each ±20%.
            assert!((1..=3).contains(&first), "{class:?}: {first}");
            assert!((12..=20).contains(&fourth), "{class:?}: {fourth}");
        }
    }

    #[test]
    fn a_malformed_job_fails_for_good_with_its_reason() {
        let report = malformed("missing field `whatsapp`");
        assert_eq!(
            report,
            Err((
                json!({"class": "permanent", "message": "missing field `whatsapp`"}),
                None
            ))
        );
        assert_eq!(label(&report), "failed");
    }

    #[test]
    fn a_job_handed_back_at_shutdown_runs_again_at_once() {
        let report = handed_back();
        let Err((error, retry)) = &report else {
            panic!()
        };
        assert_eq!(
            (*retry, error["class"].as_str()),
            (Some(0), Some("transient"))
        );
        assert_eq!(label(&report), "retried");
    }

    #[test]
    fn a_result_is_completed() {
        assert_eq!(label(&Ok(json!({"wamid": "wamid.1"}))), "completed");
    }
}
