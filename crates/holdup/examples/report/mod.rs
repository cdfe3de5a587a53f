//! What the examples print about a profile: the top of it, as `go tool pprof -top` shows it.

use holdup_pprof::{ProfileView, TopOptions};

/// Prints the top 10 of a gzip'd profile.proto, as `holdup top` (and `go tool pprof -top`).
pub(crate) fn print_top(title: &str, pprof: &[u8]) {
    println!("\n-- top 10 of the {title} --");
    let profile = match holdup_pprof::decode(pprof) {
        Ok(p) => p,
        Err(e) => {
            println!("(cannot read the profile back: {e})");
            return;
        }
    };
    match ProfileView::new(&profile) {
        Ok(view) => {
            let opts = TopOptions {
                node_count: 10,
                profile_labels: false,
                ..TopOptions::default()
            };
            print!("{}", holdup_pprof::top(&view, &opts));
        }
        Err(e) => println!("(cannot read the profile back: {e})"),
    }
}
