//! Training metrics of a finished job: the results CSV and its summary ([`results`]), and the
//! loss curve as SVG ([`chart`]).

pub mod chart;
pub mod results;

pub use chart::render_svg;
pub use results::{parse_results, summarize, Series};
