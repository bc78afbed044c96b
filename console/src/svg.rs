//! Bar charts drawn on the server as SVG: no script, nothing fetched.
use maud::{html, Markup};

/// One bar per day, stacked series (name, class for its colour, values per day).
pub fn stacked_bars(title: &str, days: &[String], series: &[(&str, &str, Vec<i64>)]) -> Markup {
    bars(title, days, series, &|v| v.to_string())
}

/// stacked_bars of amounts in cents, read as "12.34" (with the currency in the title).
pub fn stacked_amounts(title: &str, days: &[String], series: &[(&str, &str, Vec<i64>)]) -> Markup {
    bars(title, days, series, &|cents| crate::money::amount(cents))
}

/// The bars are drawn in SVG; their labels (the scale, the dates) are HTML text under and over
/// the drawing, so that they keep the page's font size when the drawing shrinks to a phone's width.
fn bars(
    title: &str,
    days: &[String],
    series: &[(&str, &str, Vec<i64>)],
    show: &dyn Fn(i64) -> String,
) -> Markup {
    let (width, height) = (720.0_f64, 180.0_f64);
    let value = |s: &(&str, &str, Vec<i64>), d: usize| s.2.get(d).copied().unwrap_or(0);
    let totals: Vec<i64> = (0..days.len())
        .map(|d| series.iter().map(|s| value(s, d)).sum())
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0);
    let slot = width / days.len().max(1) as f64;
    let scale = (height - 4.0) / max.max(1) as f64;
    // (x, y, w, h, class, tooltip) of every part of every bar; the date under every 7th day.
    let mut parts = Vec::new();
    let mut labels = Vec::new();
    for (d, day) in days.iter().enumerate() {
        let x = d as f64 * slot + 1.0;
        let mut base = height;
        for s in series {
            let v = value(s, d);
            if v > 0 {
                let h = v as f64 * scale;
                base -= h;
                parts.push((
                    x,
                    base,
                    (slot - 2.0).max(1.0),
                    h,
                    s.1,
                    format!("{day}: {} {}", show(v), s.0),
                ));
            }
        }
        // Five dates, the first and last days among them, spread as the HTML spreads them.
        let last = days.len().saturating_sub(1);
        if (0..5).any(|i| i * last / 4 == d) {
            labels.push(day_words(day));
        }
    }
    html! {
        figure.chart {
            figcaption { (title) }
            p.scale { @if max == 0 { "Nothing on any of these days." } @else { "Highest day: " (show(max)) } }
            svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {width} {height}")) role="img" aria-label=(title) {
                line x1="0" y1=(height) x2=(width) y2=(height) class="axis" {}
                @for (x, y, w, h, class, tip) in &parts {
                    rect x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{w:.1}")) height=(format!("{h:.1}")) class=(class) {
                        title { (tip) }
                    }
                }
            }
            p.dates { @for label in &labels { span { (label) } } }
            p.legend { @for (name, class, _) in series { span class=(format!("key {class}")) { (name) } " " } }
        }
    }
}

/// A day ("2026-11-02") as the owner reads it under a chart: "2 Nov" (in Kenya "11-02" reads
/// as 11 February).
fn day_words(day: &str) -> String {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map(|d| d.format("%-d %b").to_string())
        .unwrap_or_else(|_| day.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_day_and_name_their_values() {
        let days = vec!["2026-11-28".to_string(), "2026-11-29".to_string()];
        let svg = stacked_bars(
            "Messages",
            &days,
            &[("FAQ", "faq", vec![2, 4]), ("AI", "llm", vec![0, 4])],
        )
        .into_string();
        assert!(svg.contains("<title>2026-11-29: 4 AI</title>"), "{svg}");
        assert!(
            !svg.contains("2026-11-28: 0 AI"),
            "empty parts are not drawn"
        );
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(
            svg.contains("Highest day: 8<"),
            "the scale says the largest total"
        );
        assert!(
            svg.contains("<span>28 Nov</span>"),
            "dates are HTML text, day before month: {svg}"
        );
        let cents = stacked_amounts("Cost", &days, &[("AI", "llm", vec![123456, 5])]).into_string();
        assert!(cents.contains("2026-11-28: 1,234.56 AI"), "{cents}");
        assert!(cents.contains("2026-11-29: 0.05 AI"), "{cents}");
    }

    #[test]
    fn a_chart_of_nothing_says_so_instead_of_a_highest_day_that_never_was() {
        let days = vec!["2026-11-28".to_string(), "2026-11-29".to_string()];
        let cents = stacked_amounts("Cost", &days, &[("AI", "llm", vec![0, 0])]).into_string();
        assert!(cents.contains("Nothing on any of these days."), "{cents}");
        assert!(!cents.contains("Highest day"), "it said 0.01: {cents}");
        let counts = stacked_bars("Tokens", &days, &[("prompt", "llm", vec![0, 0])]).into_string();
        assert!(!counts.contains("Highest day: 1<"), "it said 1: {counts}");
    }
}
