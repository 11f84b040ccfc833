//! Pure computations over the [`crate::types`], no I/O: the checks of the options, the Azure
//! deployment plan and
//! what each Azure API version declares, lifecycle dates, graders, training metrics (CSV summary, loss chart),
//! and the XML escaping of the JUnit report and the chart.

pub mod azure;
pub mod azure_api;
pub mod checks;
pub mod graders;
pub mod ids;
pub mod junit;
pub mod lifecycle;
pub mod metrics;
pub mod prices;
pub mod verdict;
pub mod xml;
