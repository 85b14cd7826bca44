//! What the view keeps from the events it has seen: the node and its
//! connection, the current work and job terms, totals and earnings; and the
//! header and footer lines of the live view made from it.

use crate::mine::events::Event;

/// Formats an amount of the smallest unit with `decimals` (4 shown).
pub fn format_amount(amount: u128, decimals: u32) -> String {
    let unit = 10u128.checked_pow(decimals).unwrap_or(1);
    let whole = amount / unit;
    let frac = amount % unit;
    if decimals == 0 {
        return whole.to_string();
    }
    let shown = decimals.min(4);
    let frac = frac / 10u128.pow(decimals - shown);
    format!("{whole}.{frac:0width$}", width = shown as usize)
}

/// Totals the view keeps.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Winning tickets.
    pub found: u64,
    /// Accepted blocks.
    pub accepted: u64,
    /// Rejected submissions.
    pub rejected: u64,
    /// Stale wins dropped.
    pub stale: u64,
}

/// Everything the view knows, updated by [`ViewState::apply`].
#[derive(Default)]
pub(super) struct ViewState {
    pub(super) node: String,
    pub(super) connected: bool,
    pub(super) disconnect_reason: Option<String>,
    pub(super) block: Option<u32>,
    pub(super) job: Option<u64>,
    pub(super) model: String,
    pub(super) difficulty: u128,
    pub(super) price_per_step: Option<u128>,
    pub(super) author_reward: Option<Option<u128>>,
    pub(super) token: Option<(String, u32)>,
    pub(super) totals: Totals,
    pub(super) last_rejection: Option<String>,
    pub(super) earned_jobs: u128,
    pub(super) earned_rewards: u128,
    pub(super) reward_unknown: bool,
    pub(super) no_work: Option<String>,
    /// Smoothed steps per second, per device.
    pub(super) speeds: Vec<f64>,
    pub(super) authors: Vec<String>,
    pub(super) labels: Vec<String>,
}

impl ViewState {
    /// The token's symbol and decimals (a Substrate default until known).
    fn token(&self) -> (&str, u32) {
        self.token
            .as_ref()
            .map(|(s, d)| (s.as_str(), *d))
            .unwrap_or(("UNIT", 12))
    }

    /// An amount with the token's symbol.
    pub(super) fn amount(&self, v: u128) -> String {
        let (symbol, decimals) = self.token();
        format!("{} {symbol}", format_amount(v, decimals))
    }

    /// The label of device position `device` (empty if unknown).
    pub(super) fn label(&self, device: usize) -> String {
        self.labels.get(device).cloned().unwrap_or_default()
    }

    /// The first line: the node and the work.
    pub(super) fn header(&self) -> String {
        let link = if self.connected {
            self.node.clone()
        } else {
            format!(
                "{} (DISCONNECTED: {})",
                self.node,
                self.disconnect_reason.as_deref().unwrap_or("connecting")
            )
        };
        let work = match (&self.no_work, self.block, self.job) {
            (Some(reason), _, _) => format!("no work: {reason}"),
            (None, Some(block), Some(job)) => format!(
                "block #{block} · job {job} ({}) · difficulty {}",
                self.model, self.difficulty
            ),
            _ => "waiting for work".into(),
        };
        format!("{link} · {work}")
    }

    /// The last line: totals and earnings.
    pub(super) fn footer(&self) -> String {
        let t = &self.totals;
        let mut line = format!(
            "found {} · accepted {} · rejected {}",
            t.found, t.accepted, t.rejected
        );
        if t.stale > 0 {
            line += &format!(" · stale {}", t.stale);
        }
        if let Some(last) = &self.last_rejection {
            line += &format!(" (last: {last})");
        }
        line += &format!(
            " · earned {} (jobs {}",
            self.amount(self.earned_jobs + self.earned_rewards),
            self.amount(self.earned_jobs)
        );
        if self.reward_unknown {
            line += ", payments not readable over RPC: known ones only)";
        } else {
            line += &format!(" + rewards {})", self.amount(self.earned_rewards));
        }
        if let Some(estimate) = self.estimate_per_hour() {
            line += &format!(" · est. {}/h solo", self.amount(estimate));
        }
        line
    }

    /// Expected earnings per hour at the current speed if every win became
    /// a block: wins/h = 3600 · speed / difficulty, each worth about
    /// `difficulty` steps of the job plus the block reward.
    fn estimate_per_hour(&self) -> Option<u128> {
        let speed: f64 = self.speeds.iter().sum();
        if self.difficulty == 0 || speed <= 0.0 {
            return None;
        }
        let wins_per_hour = 3600.0 * speed / self.difficulty as f64;
        // Unknown price or reward: counted as nothing.
        let per_block = self.price_per_step.unwrap_or(0) as f64 * self.difficulty as f64
            + self.author_reward.flatten().unwrap_or(0) as f64;
        Some((wins_per_hour * per_block) as u128)
    }

    /// Takes in an event.
    pub(super) fn apply(&mut self, event: &Event) {
        match event {
            Event::Started { node, devices, .. } => {
                self.node = node.clone();
                self.authors = devices.iter().map(|d| d.author.clone()).collect();
                self.labels = devices.iter().map(|d| d.label.clone()).collect();
                self.speeds = vec![0.0; devices.len()];
            }
            Event::Connected { .. } => {
                self.connected = true;
                self.disconnect_reason = None;
            }
            Event::Disconnected { reason, .. } => {
                self.connected = false;
                self.disconnect_reason = Some(reason.clone());
            }
            Event::Chain { token, decimals } => self.token = Some((token.clone(), *decimals)),
            Event::Work {
                block,
                job,
                model,
                batch,
                difficulty,
                ..
            } => {
                self.no_work = None;
                self.block = Some(*block);
                self.job = Some(*job);
                self.model = format!(
                    "{}, batch {batch}",
                    model
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join("-")
                );
                self.difficulty = *difficulty;
            }
            Event::NoWork { reason } => self.no_work = Some(reason.clone()),
            Event::Job { price_per_step, .. } => {
                self.price_per_step = Some(*price_per_step);
            }
            Event::Reward { author_reward } => {
                self.reward_unknown = author_reward.is_none();
                self.author_reward = Some(*author_reward);
            }
            Event::Found { .. } => self.totals.found += 1,
            Event::Accepted {
                job_payment,
                author_reward,
                ..
            } => {
                self.totals.accepted += 1;
                match (job_payment, author_reward) {
                    (Some(job), Some(reward)) => {
                        self.earned_jobs = self.earned_jobs.saturating_add(*job);
                        self.earned_rewards = self.earned_rewards.saturating_add(*reward);
                    }
                    _ => self.reward_unknown = true,
                }
            }
            Event::Rejected { code, message, .. } => {
                self.totals.rejected += 1;
                self.last_rejection = Some(match code {
                    Some(code) => format!("{code}: {message}"),
                    None => message.clone(),
                });
            }
            Event::Stale { .. } => self.totals.stale += 1,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_formatted_with_the_token_decimals() {
        assert_eq!(format_amount(10_000_000_000_000, 12), "10.0000");
        assert_eq!(format_amount(1_234_567_890_123, 12), "1.2345");
        assert_eq!(format_amount(5, 0), "5");
        assert_eq!(format_amount(5, 2), "0.05");
    }

    #[test]
    fn the_view_sums_earnings_and_keeps_the_last_rejection() {
        let mut s = ViewState::default();
        s.apply(&Event::Reward {
            author_reward: Some(10_000_000_000_000),
        });
        s.apply(&Event::Accepted {
            device: 0,
            block: 1,
            hash: "0x".into(),
            steps: 3,
            job_payment: Some(3000),
            author_reward: Some(10_000_000_000_000),
        });
        s.apply(&Event::Rejected {
            device: 0,
            block: 2,
            code: Some(1002),
            message: "stale".into(),
        });
        assert_eq!(s.totals.accepted, 1);
        assert_eq!(s.earned_jobs, 3000);
        assert_eq!(s.earned_rewards, 10_000_000_000_000);
        let footer = s.footer();
        assert!(footer.contains("last: 1002: stale"), "{footer}");
        assert!(footer.contains("rewards 10.0000 UNIT)"), "{footer}");
        // A block whose payment could not be read is not counted as zero:
        // the footer says the sum is partial.
        s.apply(&Event::Accepted {
            device: 0,
            block: 3,
            hash: "0x".into(),
            steps: 3,
            job_payment: None,
            author_reward: None,
        });
        assert_eq!(s.earned_jobs, 3000);
        assert!(s.footer().contains("known ones only"));
    }
}
