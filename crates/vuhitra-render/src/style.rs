//! Text attributes and colours, written as SGR escapes at the depth the
//! terminal supports.

/// How much styling the terminal takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ColorLevel {
    /// No escapes at all (`TERM=dumb`): the layout only.
    None,
    /// Attributes (bold, italic, underline…) but no colours: `NO_COLOR`.
    Mono,
    /// The 16 palette colours.
    Ansi16,
    /// The xterm 256-colour palette.
    Ansi256,
    /// 24-bit colour (`COLORTERM=truecolor`).
    TrueColor,
}

impl ColorLevel {
    /// From this process's environment.
    pub fn detect() -> Self {
        Self::from_env(|key| std::env::var(key).ok())
    }

    /// From `NO_COLOR` (set and not empty: no colours, per no-color.org),
    /// `TERM` and `COLORTERM`.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Self {
        let term = get("TERM").unwrap_or_default();
        if term == "dumb" {
            return ColorLevel::None;
        }
        if get("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return ColorLevel::Mono;
        }
        let colorterm = get("COLORTERM").unwrap_or_default().to_ascii_lowercase();
        if colorterm == "truecolor" || colorterm == "24bit" {
            ColorLevel::TrueColor
        } else if term.contains("256color") || term.starts_with("tmux") || term.starts_with("xterm-kitty") {
            ColorLevel::Ansi256
        } else {
            ColorLevel::Ansi16
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// The colours of the Markdown elements. Mid-tones, so they read on dark and
/// light backgrounds alike; body text keeps the terminal's own colour.
pub(crate) mod palette {
    use super::Rgb;
    pub const HEADING1: Rgb = Rgb(198, 120, 221);
    pub const HEADING2: Rgb = Rgb(97, 175, 239);
    pub const HEADING3: Rgb = Rgb(86, 182, 194);
    pub const CODE: Rgb = Rgb(229, 192, 123);
    pub const LINK: Rgb = Rgb(97, 175, 239);
    pub const MARKER: Rgb = Rgb(86, 182, 194);
    pub const QUOTE: Rgb = Rgb(130, 130, 130);
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    pub bold: bool,
    pub dim: bool,
    pub italic: bool,
    pub underline: bool,
    pub strike: bool,
    pub fg: Option<Rgb>,
}

impl Style {
    pub const PLAIN: Style =
        Style { bold: false, dim: false, italic: false, underline: false, strike: false, fg: None };

    pub fn fg(color: Rgb) -> Style {
        Style { fg: Some(color), ..Style::PLAIN }
    }

    pub fn dim() -> Style {
        Style { dim: true, ..Style::PLAIN }
    }

    /// The escape that sets exactly this style (after a reset), or nothing
    /// when the terminal takes no escapes.
    pub fn sgr(&self, level: ColorLevel) -> String {
        if level == ColorLevel::None {
            return String::new();
        }
        let mut codes = vec!["0".to_string()];
        for (on, code) in
            [(self.bold, "1"), (self.dim, "2"), (self.italic, "3"), (self.underline, "4"), (self.strike, "9")]
        {
            if on {
                codes.push(code.to_string());
            }
        }
        if let Some(c) = self.fg {
            match level {
                ColorLevel::None | ColorLevel::Mono => {}
                ColorLevel::Ansi16 => codes.push(ansi16(c).to_string()),
                ColorLevel::Ansi256 => codes.push(format!("38;5;{}", ansi256(c))),
                ColorLevel::TrueColor => codes.push(format!("38;2;{};{};{}", c.0, c.1, c.2)),
            }
        }
        format!("\x1b[{}m", codes.join(";"))
    }
}

fn distance(a: Rgb, b: (i32, i32, i32)) -> i32 {
    let (dr, dg, db) = (a.0 as i32 - b.0, a.1 as i32 - b.1, a.2 as i32 - b.2);
    dr * dr + dg * dg + db * db
}

/// The nearest entry of the xterm palette: the 6×6×6 cube or the grey ramp.
pub fn ansi256(c: Rgb) -> u8 {
    const LEVELS: [i32; 6] = [0, 95, 135, 175, 215, 255];
    let nearest = |v: u8| {
        (0..6).min_by_key(|&i| (LEVELS[i] - v as i32).abs()).expect("six levels") as i32
    };
    let (r, g, b) = (nearest(c.0), nearest(c.1), nearest(c.2));
    let cube = (LEVELS[r as usize], LEVELS[g as usize], LEVELS[b as usize]);
    let cube_index = 16 + 36 * r + 6 * g + b;
    let average = (c.0 as i32 + c.1 as i32 + c.2 as i32) / 3;
    let grey_step = ((average - 8).max(0) / 10).min(23);
    let grey = 8 + 10 * grey_step;
    if distance(c, (grey, grey, grey)) < distance(c, cube) {
        (232 + grey_step) as u8
    } else {
        cube_index as u8
    }
}

/// A 16-colour SGR foreground code for `c`, chosen by hue (the palette's
/// actual colours vary by terminal, so nearest-by-distance would send most
/// mid-tones to grey): greys to bright black, bright colours to the bright
/// variants. Black and white are never chosen: one of them is the background.
pub fn ansi16(c: Rgb) -> u8 {
    let (r, g, b) = (c.0 as i32, c.1 as i32, c.2 as i32);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    if max - min < 48 {
        return 90;
    }
    let chroma = (max - min) as f64;
    let hue = if max == r {
        60.0 * (((g - b) as f64 / chroma).rem_euclid(6.0))
    } else if max == g {
        60.0 * ((b - r) as f64 / chroma + 2.0)
    } else {
        60.0 * ((r - g) as f64 / chroma + 4.0)
    };
    // red, yellow, green, cyan, blue, magenta: SGR 31, 33, 32, 36, 34, 35.
    const BY_SEXTANT: [u8; 6] = [31, 33, 32, 36, 34, 35];
    let base = BY_SEXTANT[((hue / 60.0).round() as usize) % 6];
    if max >= 230 {
        base + 60
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_environment_sets_the_level() {
        assert_eq!(ColorLevel::from_env(env(&[("TERM", "dumb"), ("COLORTERM", "truecolor")])), ColorLevel::None);
        assert_eq!(ColorLevel::from_env(env(&[("TERM", "xterm-256color"), ("NO_COLOR", "1")])), ColorLevel::Mono);
        // NO_COLOR set but empty does not count.
        assert_eq!(ColorLevel::from_env(env(&[("TERM", "xterm-256color"), ("NO_COLOR", "")])), ColorLevel::Ansi256);
        assert_eq!(ColorLevel::from_env(env(&[("TERM", "xterm"), ("COLORTERM", "24bit")])), ColorLevel::TrueColor);
        assert_eq!(ColorLevel::from_env(env(&[("TERM", "tmux-256color")])), ColorLevel::Ansi256);
        assert_eq!(ColorLevel::from_env(env(&[("TERM", "linux")])), ColorLevel::Ansi16);
    }

    #[test]
    fn styles_become_escapes_at_the_terminal_depth() {
        let s = Style { bold: true, fg: Some(Rgb(255, 0, 0)), ..Style::PLAIN };
        assert_eq!(s.sgr(ColorLevel::None), "");
        assert_eq!(s.sgr(ColorLevel::Mono), "\x1b[0;1m");
        assert_eq!(s.sgr(ColorLevel::Ansi16), "\x1b[0;1;91m");
        assert_eq!(s.sgr(ColorLevel::Ansi256), "\x1b[0;1;38;5;196m");
        assert_eq!(s.sgr(ColorLevel::TrueColor), "\x1b[0;1;38;2;255;0;0m");
        assert_eq!(Style::PLAIN.sgr(ColorLevel::Ansi256), "\x1b[0m");
    }

    #[test]
    fn palette_lookups_pick_the_nearest_entry() {
        assert_eq!(ansi256(Rgb(0, 0, 0)), 16);
        assert_eq!(ansi256(Rgb(255, 255, 255)), 231);
        assert_eq!(ansi256(Rgb(128, 128, 128)), 244);
        assert_eq!(ansi256(Rgb(95, 135, 175)), 16 + 36 + 12 + 3);
        assert_eq!(ansi16(Rgb(200, 10, 10)), 31);
        assert_eq!(ansi16(Rgb(255, 0, 0)), 91);
        assert_eq!(ansi16(Rgb(120, 120, 130)), 90);
        assert_eq!(ansi16(palette::CODE), 33, "orange is yellow");
        assert_eq!(ansi16(palette::HEADING1), 35);
        assert_eq!(ansi16(palette::LINK), 96);
        assert_eq!(ansi16(palette::MARKER), 36);
        assert_eq!(ansi16(Rgb(163, 190, 140)), 32, "ocean-dark's strings are green");
    }
}
