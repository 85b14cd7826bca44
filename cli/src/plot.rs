//! A job's loss curve as an image: PNG or SVG, by the file's extension.
//! Drawn with plotters; the text is laid out with a TrueType font (DejaVu
//! Sans by default, which scripts/setup installs; `--font` for another).

use std::path::{Path, PathBuf};

use plotters::{coord::Shift, prelude::*};

/// Where the font is looked for when `--font` is not given.
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Image size, pixels.
const SIZE: (u32, u32) = (960, 540);

/// A plotting problem.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Nothing to draw.
    #[error("no loss points to plot")]
    Empty,
    /// The output's extension is neither `.png` nor `.svg`.
    #[error("{0}: write a .png or a .svg file")]
    Format(PathBuf),
    /// No font for the text.
    #[error("no TrueType font for the chart's text (looked at {0}): pass --font <file.ttf>")]
    NoFont(String),
    /// The font file is not a usable font.
    #[error("font {path}: {message}")]
    Font {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Drawing or writing failed.
    #[error("drawing {path}: {message}")]
    Draw {
        /// The output.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// One point: the job's steps after a block, the block's mean loss in nats.
pub type Point = (u64, f64);

/// Draws `points` titled `title` into `out` (`.png` or `.svg`).
pub fn plot(
    points: &[Point],
    title: &str,
    out: &Path,
    font: Option<&Path>,
) -> Result<(), PlotError> {
    if points.is_empty() {
        return Err(PlotError::Empty);
    }
    let draw_error = |e: String| PlotError::Draw {
        path: out.to_path_buf(),
        message: e,
    };
    let extension = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("svg") => {
            register_font(font)?;
            draw(
                SVGBackend::new(out, SIZE).into_drawing_area(),
                points,
                title,
            )
            .map_err(draw_error)
        }
        Some("png") => {
            register_font(font)?;
            draw(
                BitMapBackend::new(out, SIZE).into_drawing_area(),
                points,
                title,
            )
            .map_err(draw_error)
        }
        _ => Err(PlotError::Format(out.to_path_buf())),
    }
}

/// Registers the chart's font as `sans-serif`.
fn register_font(font: Option<&Path>) -> Result<(), PlotError> {
    let path = match font {
        Some(path) => path.to_path_buf(),
        None => FONT_PATHS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| PlotError::NoFont(FONT_PATHS.join(", ")))?,
    };
    let font_error = |message: String| PlotError::Font {
        path: path.clone(),
        message,
    };
    let bytes = std::fs::read(&path).map_err(|e| font_error(e.to_string()))?;
    // plotters keeps registered fonts for the process: leaked once.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| font_error("not a TrueType font".into()))
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    points: &[Point],
    title: &str,
) -> Result<(), String> {
    let text = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(text)?;
    let max_steps = points.iter().map(|p| p.0).max().unwrap_or(1).max(1);
    let max_loss = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-3) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0u64..max_steps, 0f64..max_loss)
        .map_err(text)?;
    chart
        .configure_mesh()
        .x_desc("steps")
        .y_desc("batch loss (nats per sample)")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(text)?;
    chart
        .draw_series(LineSeries::new(points.iter().copied(), &BLUE))
        .map_err(text)?;
    chart
        .draw_series(
            points
                .iter()
                .map(|&(x, y)| Circle::new((x, y), 3, BLUE.filled())),
        )
        .map_err(text)?;
    root.present().map_err(text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURVE: &[Point] = &[(932, 0.48), (4861, 0.13), (5430, 0.22), (11469, 0.17)];

    #[test]
    fn a_curve_is_drawn_as_svg_and_png() {
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("loss.svg");
        plot(CURVE, "job 1", &svg, None).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("<svg") && text.contains("job 1") && text.contains("steps"));
        let png = dir.path().join("loss.png");
        // DejaVu Sans: scripts/setup installs fonts-dejavu-core.
        plot(CURVE, "job 1", &png, None).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(bytes.len() > 5_000, "a drawn chart, not an empty image");
    }

    #[test]
    fn bad_requests_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            plot(&[], "t", &dir.path().join("a.svg"), None),
            Err(PlotError::Empty)
        ));
        assert!(matches!(
            plot(CURVE, "t", &dir.path().join("a.jpg"), None),
            Err(PlotError::Format(_))
        ));
        let not_a_font = dir.path().join("font.ttf");
        std::fs::write(&not_a_font, b"nope").unwrap();
        assert!(matches!(
            plot(CURVE, "t", &dir.path().join("a.png"), Some(&not_a_font)),
            Err(PlotError::Font { .. })
        ));
    }
}
