//! Lanes: jobs of some kinds, claimed and run with a concurrency of their own, so that slow LLM
//! calls never hold up sends and alerts.
use tokio::sync::Notify;

pub struct Lane {
    pub name: &'static str,
    /// claim_jobs' kinds.
    pub kinds: &'static [&'static str],
    pub concurrency: usize,
    /// Raised by NOTIFY alphadome_outbox (a permit is kept if the lane is busy: no wake-up lost).
    pub wake: Notify,
}

/// Calls that take milliseconds (Meta's sends, alerts, the list of templates, M-Pesa's push and
/// query, campaigns' sends: queued two seconds ahead at most, so a reply waits behind little of
/// a campaign).
const FAST_KINDS: &[&str] = &[
    "reply.send",
    "alert.send",
    "templates.sync",
    "payment.stk_push",
    "payment.query",
    "templates.submit",
    "campaign.send",
];
/// Calls that take seconds (the LLM, transcriptions): many at once, since they only wait.
const SLOW_KINDS: &[&str] = &["reply.generate", "media.transcribe", "faq.embed"];

/// The fast lane and the slow lane, each running at least one job at a time (a lane without
/// permits would never claim).
pub fn lanes(fast_concurrency: usize, slow_concurrency: usize) -> [Lane; 2] {
    [
        Lane {
            name: "fast",
            kinds: FAST_KINDS,
            concurrency: fast_concurrency.max(1),
            wake: Notify::new(),
        },
        Lane {
            name: "slow",
            kinds: SLOW_KINDS,
            concurrency: slow_concurrency.max(1),
            wake: Notify::new(),
        },
    ]
}

/// A claim that took as many jobs as the lane had free permits may have left more waiting:
/// claim again at once rather than wait for a wake-up or the poll.
pub fn claim_again_at_once(claimed: usize, free: usize) -> bool {
    claimed > 0 && claimed == free
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_kind_of_job_runs_in_exactly_one_lane() {
        let lanes = lanes(32, 256);
        let mut seen = HashSet::new();
        for lane in &lanes {
            for kind in lane.kinds {
                assert!(seen.insert(*kind), "{kind} is in two lanes");
            }
        }
        let kinds = [
            "reply.send",
            "alert.send",
            "reply.generate",
            "media.transcribe",
            "templates.sync",
            "payment.stk_push",
            "payment.query",
            "templates.submit",
            "campaign.send",
            "faq.embed",
        ];
        assert_eq!(
            seen,
            HashSet::from(kinds),
            "contract::Work's kinds, each claimed"
        );
    }

    #[test]
    fn llm_calls_never_share_a_lane_with_sends_and_alerts() {
        let [fast, slow] = lanes(32, 256);
        assert_eq!((fast.name, fast.concurrency), ("fast", 32));
        assert_eq!((slow.name, slow.concurrency), ("slow", 256));
        assert!(fast.kinds.contains(&"reply.send") && fast.kinds.contains(&"alert.send"));
        assert!(
            fast.kinds.contains(&"templates.sync"),
            "cheap: a GET or a few"
        );
        assert!(slow.kinds.contains(&"reply.generate") && slow.kinds.contains(&"media.transcribe"));
        assert!(slow.kinds.contains(&"faq.embed"), "an embeddings call");
        assert!(
            fast.kinds.contains(&"campaign.send"),
            "the send lane: a campaign's sends are Meta calls like replies"
        );
    }

    #[test]
    fn a_lane_set_to_no_concurrency_still_runs_one_job() {
        let [fast, slow] = lanes(0, 0);
        assert_eq!((fast.concurrency, slow.concurrency), (1, 1));
    }

    #[test]
    fn only_a_full_claim_claims_again_at_once() {
        assert!(claim_again_at_once(4, 4));
        assert!(
            !claim_again_at_once(3, 4),
            "fewer than asked: the queue is empty"
        );
        assert!(
            !claim_again_at_once(0, 0),
            "no permits free: wait for a job to finish"
        );
    }
}
