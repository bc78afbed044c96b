//! Bar charts drawn on the server as SVG: no script, nothing fetched.
use maud::{html, Markup};

/// One bar per day, stacked series (name, class for its colour, values per day).
pub fn stacked_bars(title: &str, days: &[String], series: &[(&str, &str, Vec<i64>)]) -> Markup {
    let (width, height, left, bottom) = (720.0_f64, 200.0_f64, 40.0_f64, 20.0_f64);
    let value = |s: &(&str, &str, Vec<i64>), d: usize| s.2.get(d).copied().unwrap_or(0);
    let totals: Vec<i64> = (0..days.len())
        .map(|d| series.iter().map(|s| value(s, d)).sum())
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let slot = (width - left) / days.len().max(1) as f64;
    let scale = (height - bottom - 10.0) / max as f64;
    // (x, y, w, h, class, tooltip) of every part of every bar; (x, label) under every 7th day.
    let mut bars = Vec::new();
    let mut labels = Vec::new();
    for (d, day) in days.iter().enumerate() {
        let x = left + d as f64 * slot + 1.0;
        let mut base = height - bottom;
        for s in series {
            let v = value(s, d);
            if v > 0 {
                let h = v as f64 * scale;
                base -= h;
                bars.push((
                    x,
                    base,
                    (slot - 2.0).max(1.0),
                    h,
                    s.1,
                    format!("{day}: {v} {}", s.0),
                ));
            }
        }
        if d % 7 == 0 {
            labels.push((x, day.get(5..).unwrap_or(day).to_string()));
        }
    }
    html! {
        figure.chart {
            figcaption { (title) }
            svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {width} {height}")) role="img" aria-label=(title) {
                text x="0" y="12" class="axis" { (max) }
                line x1=(left) y1=(height - bottom) x2=(width) y2=(height - bottom) class="axis" {}
                @for (x, y, w, h, class, tip) in &bars {
                    rect x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{w:.1}")) height=(format!("{h:.1}")) class=(class) {
                        title { (tip) }
                    }
                }
                @for (x, label) in &labels {
                    text x=(format!("{x:.1}")) y=(height - 4.0) class="axis" { (label) }
                }
            }
            p.legend { @for (name, class, _) in series { span class=(format!("key {class}")) { (name) } " " } }
        }
    }
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
        assert!(svg.contains(">8</text>"), "the axis says the largest total");
    }
}
