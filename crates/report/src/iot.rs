//! The IoT figures of `summary.json` (its `iot` object): what happened to the messages,
//! their latency distribution, the satellites' buffers and the fleet's occupancy over time.

use serde::{Deserialize, Serialize};
use tiandi_sim::iot::IotRun;

/// `summary.json`'s `iot` object. The same under every policy of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IotFigures {
    pub terminals: u32,
    pub message_bytes: u32,
    pub messages_sent: u64,
    /// Still queued on their terminals at the end (never reached a satellite).
    pub on_terminal: u64,
    pub delivered: u64,
    /// Aboard a satellite at the end.
    pub stored: u64,
    /// Refused by a full buffer.
    pub dropped: u64,
    pub latency_mean_s: Option<f64>,
    pub latency_p50_s: Option<f64>,
    pub latency_p95_s: Option<f64>,
    pub latency_p99_s: Option<f64>,
    pub latency_max_s: Option<f64>,
    /// Delivered messages' latency at each percent, 0 to 100 (nearest rank).
    pub latency_percentiles_s: Vec<f64>,
    /// Most messages any one satellite held at once.
    pub buffer_peak_messages: u32,
    pub buffer_messages: u32,
    /// Messages aboard all satellites together at the start of each step.
    pub occupancy_step_s: f64,
    pub occupancy_messages: Vec<u64>,
    /// Satellite-seconds of visibility removed by outages.
    pub outage_cut_s: f64,
    /// Satellite-seconds of downlink gained through ISL neighbours (0 without ISLs).
    #[serde(default)]
    pub isl_relay_s: f64,
    pub satellites: Vec<IotSatellite>,
}

/// One satellite's buffer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IotSatellite {
    pub satellite: u32,
    pub peak_messages: u32,
    /// Time-weighted mean from the first message sent to the end.
    pub mean_messages: f64,
    pub dropped: u64,
}

impl IotFigures {
    pub fn of(run: &IotRun, message_bytes: u32, buffer_messages: u32) -> IotFigures {
        let q = |p: usize| run.latency_quantiles_s.get(p).copied();
        let o = &run.outcome;
        IotFigures {
            terminals: run.terminals,
            message_bytes,
            messages_sent: run.sent,
            on_terminal: o.on_terminal,
            delivered: o.delivered,
            stored: o.stored,
            dropped: o.dropped,
            latency_mean_s: run.latency_mean_s,
            latency_p50_s: q(50),
            latency_p95_s: q(95),
            latency_p99_s: q(99),
            latency_max_s: q(100),
            latency_percentiles_s: run.latency_quantiles_s.clone(),
            buffer_peak_messages: o.buffers.iter().map(|b| b.peak).max().unwrap_or(0),
            buffer_messages,
            occupancy_step_s: run.occupancy_step_s,
            occupancy_messages: run.occupancy.clone(),
            outage_cut_s: run.outage_cut_s,
            isl_relay_s: run.isl_relay_s,
            satellites: o
                .buffers
                .iter()
                .enumerate()
                .map(|(i, b)| IotSatellite {
                    satellite: i as u32,
                    peak_messages: b.peak,
                    mean_messages: b.mean,
                    dropped: b.dropped,
                })
                .collect(),
        }
    }
}
