//! Compute payloads: a catalogue of named accelerators and their throttle curve.
//!
//! Throughput and power figures come from public datasheets, cited per entry. Idle power,
//! host overhead and upset rates are not datasheet values: each says where it comes from.

use crate::error::ParamError;

/// Exponent of the throttle curve `throughput = ((P - P_idle) / (P_max - P_idle))^k`.
///
/// Dynamic CMOS power is P = C V^2 f, and under DVFS the voltage scales roughly with the
/// clock, so P_dynamic ~ f^3 and throughput ~ f ~ P_dynamic^(1/3) (Hennessy & Patterson,
/// Computer Architecture, 6th ed., sec. 1.5). Memory-bound work loses less; this is the
/// compute-bound, pessimistic end.
pub const THROTTLE_EXPONENT: f64 = 1.0 / 3.0;

/// One accelerator model.
#[derive(Clone, Debug, PartialEq)]
pub struct Accelerator {
    /// Short name used on the command line (`h100`).
    pub key: &'static str,
    pub name: &'static str,
    /// Dense FP16/BF16 tensor throughput, TFLOPS (0 when the device has no FP16 path).
    pub fp16_tflops_dense: f64,
    /// Dense INT8 throughput, TOPS.
    pub int8_tops_dense: f64,
    pub memory_gb: f64,
    /// Power when powered but idle, W.
    pub idle_power_w: f64,
    /// Maximum (TDP / board) power, W.
    pub max_power_w: f64,
    /// Host power (CPU, memory, NIC, conversion) per watt of accelerator power.
    pub host_overhead_fraction: f64,
    /// Task-interrupting upsets (uncorrectable errors, functional interrupts) per device-day
    /// in quiet LEO (outside the SAA, 550 km). ASSUMED order of magnitude; see each entry.
    pub upsets_per_device_day: f64,
    pub radiation_tolerant: bool,
    /// Total ionizing dose at which the device stops being usable, krad(Si).
    pub tid_tolerance_krad: f64,
    /// Where the numbers come from.
    pub source: &'static str,
}

/// TID tolerance of a commercial accelerator with stacked DRAM, krad(Si): Google's
/// Suncatcher study ("Towards a future space-based, highly scalable AI infrastructure
/// system design", 2025) saw HBM irregularities in TPU v6e from about 2 krad(Si) in
/// proton tests (no hard failures up to 15 krad). ASSUMED for every commercial part here:
/// their memories are the weakest link and none publishes a figure.
pub const COMMERCIAL_TID_KRAD: f64 = 2.0;

/// Host overhead of a datacentre GPU server: NVIDIA DGX H100 datasheet gives ~10.2 kW
/// maximum system power for 8 x 700 W GPUs, so the host (CPUs, NVSwitch, NICs, fans,
/// power-supply losses) adds 10.2 / 5.6 - 1 = 0.82 W per accelerator watt.
pub const SERVER_HOST_OVERHEAD: f64 = 10.2 / 5.6 - 1.0;
/// Host overhead of a system-on-module (CPU is on the module): carrier board, memory and
/// DC-DC conversion. ASSUMED 10 %.
pub const MODULE_HOST_OVERHEAD: f64 = 0.10;

/// The catalogue, in the order `tiandi plan --help` lists it.
pub const CATALOGUE: [Accelerator; 4] = [
    Accelerator {
        key: "h100",
        name: "NVIDIA H100 SXM5 80GB",
        // NVIDIA H100 Tensor Core GPU datasheet (2023): FP16/BF16 tensor 1,979 TFLOPS with
        // sparsity = 989.4 dense; INT8 3,958 TOPS sparse = 1,979 dense; 80 GB HBM3; max TDP
        // 700 W (SXM).
        fp16_tflops_dense: 989.4,
        int8_tops_dense: 1_979.0,
        memory_gb: 80.0,
        // Not on the datasheet: nvidia-smi reports 60-75 W for an idle H100 SXM; 70 W used.
        idle_power_w: 70.0,
        max_power_w: 700.0,
        host_overhead_fraction: SERVER_HOST_OVERHEAD,
        // ASSUMED: commercial 4 nm die with 80 GB ECC HBM; ECC corrects most memory upsets,
        // so what interrupts a task is uncorrectable errors and hangs. 0.1 per day is an
        // order-of-magnitude guess pending beam-test data.
        upsets_per_device_day: 0.1,
        radiation_tolerant: false,
        tid_tolerance_krad: COMMERCIAL_TID_KRAD,
        source: "NVIDIA H100 Tensor Core GPU datasheet (SXM5)",
    },
    Accelerator {
        key: "orin",
        name: "NVIDIA Jetson AGX Orin 64GB",
        // NVIDIA Jetson AGX Orin Series Technical Brief v1.2 (2022): 275 sparse INT8 TOPS
        // (GPU 170 + 2 DLA 105), module power 15-60 W, 64 GB LPDDR5. Dense INT8 is half the
        // sparse figure (2:4 structured sparsity); GPU dense FP16 tensor is half the GPU's
        // dense INT8 (85 TOPS) on Ampere tensor cores: 42.5 TFLOPS (derived, not quoted).
        fp16_tflops_dense: 42.5,
        int8_tops_dense: 137.5,
        memory_gb: 64.0,
        idle_power_w: 15.0,
        max_power_w: 60.0,
        host_overhead_fraction: MODULE_HOST_OVERHEAD,
        // ASSUMED: commercial 8 nm SoC, smaller than the H100; 0.05 per day.
        upsets_per_device_day: 0.05,
        radiation_tolerant: false,
        tid_tolerance_krad: COMMERCIAL_TID_KRAD,
        source: "NVIDIA Jetson AGX Orin Series Technical Brief v1.2",
    },
    Accelerator {
        key: "versal",
        name: "AMD/Xilinx XQR Versal AI Core XQRVC1902",
        // Xilinx DS950 Versal Architecture and Product Data Sheet, and Hot Chips 31 (2019):
        // VC1902 has 400 AI Engine tiles, 133 INT8 TOPS; the space-grade XQR part has the
        // same silicon (Class B qualified 2022). FP16 is not an AI Engine native type: 0.
        fp16_tflops_dense: 0.0,
        int8_tops_dense: 133.0,
        // No on-die DRAM; 8 GB DDR4 is a typical board, not a device figure.
        memory_gb: 8.0,
        // ASSUMED: no single published TDP (it depends on the design loaded); Xilinx Power
        // Estimator runs of AI-Engine-heavy designs fall around 50-75 W. 75 W max, 10 W idle.
        idle_power_w: 10.0,
        max_power_w: 75.0,
        host_overhead_fraction: MODULE_HOST_OVERHEAD,
        // ASSUMED: radiation-hardened-by-design, SEL-immune, configuration memory scrubbed;
        // 100x fewer interrupts than a commercial part.
        upsets_per_device_day: 0.001,
        radiation_tolerant: true,
        // AMD XQR Versal: 100 krad(Si) TID rated (space-grade qualification).
        tid_tolerance_krad: 100.0,
        source: "Xilinx DS950; Hot Chips 31 Versal AI Engine talk",
    },
    Accelerator {
        key: "atlas300i",
        name: "Huawei Atlas 300I Pro (Ascend 310P)",
        // Huawei Atlas 300I Pro inference card product page: 140 TOPS INT8, 70 TFLOPS FP16,
        // 24 GB LPDDR4X, 72 W maximum.
        fp16_tflops_dense: 70.0,
        int8_tops_dense: 140.0,
        memory_gb: 24.0,
        // ASSUMED: ~15 % of max, as for the other inference parts.
        idle_power_w: 11.0,
        max_power_w: 72.0,
        host_overhead_fraction: SERVER_HOST_OVERHEAD,
        // ASSUMED: commercial inference card, 0.05 per day.
        upsets_per_device_day: 0.05,
        radiation_tolerant: false,
        tid_tolerance_krad: COMMERCIAL_TID_KRAD,
        source: "Huawei Atlas 300I Pro product specifications",
    },
];

/// Looks up an accelerator by its key (case-insensitive).
pub fn accelerator(key: &str) -> Result<&'static Accelerator, ParamError> {
    let wanted = key.trim().to_ascii_lowercase();
    CATALOGUE.iter().find(|a| a.key == wanted).ok_or_else(|| {
        let known: Vec<&str> = CATALOGUE.iter().map(|a| a.key).collect();
        ParamError::new(
            "accelerator",
            format!("{key:?}"),
            format!("one of {}", known.join(", ")),
        )
    })
}

impl Accelerator {
    /// The peak rate stages are timed against, operations/s: FP16 dense where the device
    /// has it, else its INT8 dense rate (a part such as Versal's AI Engines runs quantised
    /// inference only).
    pub fn peak_ops(&self) -> f64 {
        if self.fp16_tflops_dense > 0.0 {
            self.fp16_tflops_dense * 1e12
        } else {
            self.int8_tops_dense * 1e12
        }
    }

    /// Fraction of peak throughput at a power cap (0 below idle: it cannot run).
    pub fn throughput_fraction(&self, power_w: f64) -> f64 {
        if power_w < self.idle_power_w {
            return 0.0;
        }
        let x = ((power_w - self.idle_power_w) / (self.max_power_w - self.idle_power_w))
            .clamp(0.0, 1.0);
        x.powf(THROTTLE_EXPONENT)
    }

    /// Power needed for a fraction of peak throughput (inverse of `throughput_fraction`).
    pub fn power_for_fraction(&self, fraction: f64) -> f64 {
        let f = fraction.clamp(0.0, 1.0);
        self.idle_power_w + (self.max_power_w - self.idle_power_w) * f.powf(1.0 / THROTTLE_EXPONENT)
    }

    /// Accelerator plus its share of the host, W.
    pub fn system_power_w(&self) -> f64 {
        self.max_power_w * (1.0 + self.host_overhead_fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_consistent() {
        for a in &CATALOGUE {
            assert!(
                a.idle_power_w > 0.0 && a.idle_power_w < a.max_power_w,
                "{}",
                a.key
            );
            assert!(a.int8_tops_dense > 0.0, "{}", a.key);
            assert_eq!(accelerator(a.key).unwrap().key, a.key);
        }
        assert_eq!(accelerator("H100").unwrap().fp16_tflops_dense, 989.4);
        let e = accelerator("tpu9").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid accelerator \"tpu9\": expected one of h100, orin, versal, atlas300i"
        );
    }

    #[test]
    fn throttle_curve_end_points_and_inverse() {
        let h = accelerator("h100").unwrap();
        assert_eq!(h.throughput_fraction(700.0), 1.0);
        assert_eq!(h.throughput_fraction(800.0), 1.0);
        assert_eq!(h.throughput_fraction(69.0), 0.0);
        assert_eq!(h.throughput_fraction(70.0), 0.0);
        // Half the power above idle gives 0.5^(1/3) = 0.794 of peak.
        assert!((h.throughput_fraction(385.0) - 0.5f64.powf(1.0 / 3.0)).abs() < 1e-12);
        for f in [0.0, 0.1, 0.5, 0.9, 1.0] {
            assert!(
                (h.throughput_fraction(h.power_for_fraction(f)) - f).abs() < 1e-9,
                "{f}"
            );
        }
    }
}
