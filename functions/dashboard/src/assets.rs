//! The pages' stylesheet and script, compiled into the binary and served from the pages' own
//! origin (the Content-Security-Policy allows nothing else).

use millwright_aws::http::Reply;

/// The one stylesheet.
pub const STYLE: &str = include_str!("../assets/style.css");
/// The connect page's script: tells the opener (when the page is a popup) and goes on to the
/// redirect URL.
pub const CONNECT_SCRIPT: &str = include_str!("../assets/connect.js");
/// The dashboard's script: Copy buttons beside values shown once.
pub const COPY_SCRIPT: &str = include_str!("../assets/copy.js");

/// The stylesheet of an accent colour (`accent/1f4fd1.css`): the connect page's branding, as a
/// file, since the Content-Security-Policy allows no inline style.
pub fn accent(file: &str) -> Option<Reply> {
    let hex = file.strip_suffix(".css").filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()))?;
    let css = format!(":root {{ --accent: #{hex}; }}\n");
    Some(
        Reply::text(200, "text/css; charset=utf-8", css)
            .with_header("cache-control", "public, max-age=86400")
            .with_header("x-content-type-options", "nosniff"),
    )
}

/// An asset by file name.
pub fn serve(name: &str) -> Option<Reply> {
    let (content_type, text) = match name {
        "style.css" => ("text/css; charset=utf-8", STYLE),
        "connect.js" => ("text/javascript; charset=utf-8", CONNECT_SCRIPT),
        "copy.js" => ("text/javascript; charset=utf-8", COPY_SCRIPT),
        _ => return None,
    };
    Some(
        Reply::text(200, content_type, text)
            .with_header("cache-control", "public, max-age=300")
            .with_header("x-content-type-options", "nosniff"),
    )
}
