//! What an execution would cost on AWS: the usage a local run measured (state transitions,
//! Express requests and duration, Lambda requests and duration, S3 requests), priced from a
//! table of us-east-1 list prices, each of which deploy.toml's `[prices]` may override. Free
//! tiers and volume discounts are left out: the figure is what one more execution adds.

use serde::{Deserialize, Serialize};

use crate::config::Architecture;

/// A price in US dollars: finite and not negative.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Usd(f64);

impl Usd {
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Usd {
    type Error = String;
    fn try_from(value: f64) -> Result<Self, String> {
        if value.is_finite() && value >= 0.0 {
            Ok(Self(value))
        } else {
            Err(format!(
                "{value} is not a price: it must be a number of dollars, 0 or more"
            ))
        }
    }
}

impl From<Usd> for f64 {
    fn from(value: Usd) -> f64 {
        value.0
    }
}

/// `[prices]`: AWS's list prices in us-east-1 (December 2026), in the units AWS publishes them.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Prices {
    /// Step Functions Standard: per 1,000 state transitions.
    pub standard_per_1000_transitions: Usd,
    /// Step Functions Express: per million requests (executions started).
    pub express_per_million_requests: Usd,
    /// Step Functions Express: per GB-second of duration (the first tier).
    pub express_per_gb_second: Usd,
    /// Lambda: per million requests.
    pub lambda_per_million_requests: Usd,
    /// Lambda on x86_64: per GB-second (the first tier).
    pub lambda_per_gb_second_x86_64: Usd,
    /// Lambda on arm64: per GB-second (the first tier).
    pub lambda_per_gb_second_arm64: Usd,
    /// S3 Standard: per 1,000 PUT, COPY, POST or LIST requests.
    pub s3_per_1000_put_copy_post_list: Usd,
    /// S3 Standard: per 1,000 GET requests.
    pub s3_per_1000_get: Usd,
}

impl Default for Prices {
    fn default() -> Self {
        Self {
            standard_per_1000_transitions: Usd(0.025),
            express_per_million_requests: Usd(1.00),
            express_per_gb_second: Usd(0.000_016_67),
            lambda_per_million_requests: Usd(0.20),
            lambda_per_gb_second_x86_64: Usd(0.000_016_666_7),
            lambda_per_gb_second_arm64: Usd(0.000_013_333_4),
            s3_per_1000_put_copy_post_list: Usd(0.005),
            s3_per_1000_get: Usd(0.000_4),
        }
    }
}

/// Express executions are billed in 64 MB steps of memory; a child of this pipeline (one Task
/// and payloads of a few KiB) takes the first.
pub const EXPRESS_BILLED_MB: u64 = 64;

/// What one execution used, as AWS bills it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// State transitions of the execution and of its Standard child executions.
    pub standard_transitions: u64,
    /// Express child executions, and their durations rounded up to 100 ms each.
    pub express_requests: u64,
    pub express_billed_ms: u64,
    /// Lambda invocations and their durations rounded up to 1 ms each.
    pub lambda_requests: u64,
    pub lambda_billed_ms: u64,
    /// The function's memory and architecture (deploy.toml).
    pub lambda_memory_mb: u64,
    pub lambda_arm64: bool,
    /// S3 requests, by price class.
    pub s3_put_copy_post_list: u64,
    pub s3_get: u64,
}

/// The price of a [`Usage`], by service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Cost {
    pub step_functions_usd: f64,
    pub lambda_usd: f64,
    pub s3_usd: f64,
    pub total_usd: f64,
}

impl Usage {
    /// The function's settings, for pricing its duration.
    pub fn with_function(mut self, memory_mb: u32, architecture: Architecture) -> Self {
        self.lambda_memory_mb = memory_mb.into();
        self.lambda_arm64 = architecture == Architecture::Arm64;
        self
    }

    /// What this usage costs at `prices`.
    pub fn cost(&self, prices: &Prices) -> Cost {
        let gb_seconds = |ms: u64, mb: u64| ms as f64 / 1000.0 * mb as f64 / 1024.0;
        let step_functions = self.standard_transitions as f64 / 1000.0
            * prices.standard_per_1000_transitions.get()
            + self.express_requests as f64 / 1e6 * prices.express_per_million_requests.get()
            + gb_seconds(self.express_billed_ms, EXPRESS_BILLED_MB)
                * prices.express_per_gb_second.get();
        let lambda_gb_second = if self.lambda_arm64 {
            prices.lambda_per_gb_second_arm64
        } else {
            prices.lambda_per_gb_second_x86_64
        };
        let lambda = self.lambda_requests as f64 / 1e6 * prices.lambda_per_million_requests.get()
            + gb_seconds(self.lambda_billed_ms, self.lambda_memory_mb) * lambda_gb_second.get();
        let s3 = self.s3_put_copy_post_list as f64 / 1000.0
            * prices.s3_per_1000_put_copy_post_list.get()
            + self.s3_get as f64 / 1000.0 * prices.s3_per_1000_get.get();
        Cost {
            step_functions_usd: step_functions,
            lambda_usd: lambda,
            s3_usd: s3,
            total_usd: step_functions + lambda + s3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each figure priced in AWS's own units: 4,000 transitions at $0.025 per 1,000 are $0.10;
    /// 1,000 Lambda requests at $0.20 per million and 1,000 GB-seconds (1,000,000 ms at 1,024
    /// MB) on arm64; 2,000 PUTs and 10,000 GETs; Express: 1,000,000 requests and 16,000 s at
    /// 64 MB (1,000 GB-seconds).
    #[test]
    fn usage_is_priced_in_awss_units() {
        let usage = Usage {
            standard_transitions: 4_000,
            express_requests: 1_000_000,
            express_billed_ms: 16_000_000,
            lambda_requests: 1_000,
            lambda_billed_ms: 1_000_000,
            s3_put_copy_post_list: 2_000,
            s3_get: 10_000,
            ..Usage::default()
        }
        .with_function(1024, Architecture::Arm64);
        let cost = usage.cost(&Prices::default());
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(
            close(cost.step_functions_usd, 0.10 + 1.00 + 0.01667),
            "{cost:?}"
        );
        assert!(close(cost.lambda_usd, 0.0002 + 0.0133334), "{cost:?}");
        assert!(close(cost.s3_usd, 0.01 + 0.004), "{cost:?}");
        assert!(close(
            cost.total_usd,
            cost.step_functions_usd + cost.lambda_usd + cost.s3_usd
        ));
        let x86 = usage
            .with_function(1024, Architecture::X86_64)
            .cost(&Prices::default());
        assert!(close(x86.lambda_usd, 0.0002 + 0.0166667), "{x86:?}");
    }

    #[test]
    fn a_price_is_a_finite_number_of_dollars() {
        assert!(Usd::try_from(-0.01).is_err());
        assert!(Usd::try_from(f64::NAN).is_err());
        assert_eq!(Usd::try_from(0.0).unwrap().get(), 0.0);
    }
}
