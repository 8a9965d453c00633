//! HTML loading, on markup shaped like Sphinx output (docs.python.org) and on
//! broken markup.

use vuhitra_docs::{load, Block, DocKind};

fn html(src: &str) -> Vec<Block> {
    load(&DocKind::Html, src.as_bytes()).unwrap()
}

fn h(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

const SPHINX_PAGE: &str = r##"<!DOCTYPE html>
<html lang="en">
  <head>
    <title>5. Data Structures &#8212; Python 3.11 documentation</title>
    <script src="../_static/doctools.js"></script>
    <style>p { color: red }</style>
  </head>
<body>
<div class="mobile-nav">
  <nav class="nav-content" role="navigation"><a href="/">Python</a> menu text</nav>
</div>
<div class="related" role="navigation" aria-label="related navigation">
  <h3>Navigation</h3>
  <ul><li><a href="../genindex.html">index</a></li></ul>
</div>
<div class="document">
  <div class="body" role="main">
  <section id="data-structures">
<span id="tut-structures"></span><h1><span class="section-number">5. </span>Data Structures<a class="headerlink" href="#data-structures" title="Permalink to this heading">¶</a></h1>
<p>This chapter describes some things you&#8217;ve learned about already in more detail,
and adds some new things as well.</p>
<section id="more-on-lists">
<h2><span class="section-number">5.1. </span>More on Lists<a class="headerlink" href="#more-on-lists">&#182;</a></h2>
<dl class="py method">
<dt class="sig sig-object py" id="list.append">
<span class="sig-prename descclassname"><span class="pre">list.</span></span><span class="sig-name descname"><span class="pre">append</span></span>(<em>x</em>)<a class="headerlink" href="#list.append" title="Link to this definition">¶</a></dt>
<dd><p>Add an item to the end of the list.  Equivalent to <code>a[len(a):]&nbsp;=&nbsp;[x]</code>.</p>
</dd></dl>
<div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span><span class="gp">&gt;&gt;&gt; </span><span class="n">fruits</span> <span class="o">=</span> <span class="p">[</span><span class="s1">&#39;orange&#39;</span><span class="p">]</span>
<span class="gp">&gt;&gt;&gt; </span><span class="n">fruits</span><span class="o">.</span><span class="n">count</span><span class="p">(</span><span class="s1">&#39;apple&#39;</span><span class="p">)</span>
0
</pre></div>
</div>
</section>
</section>
  </div>
  <div class="sphinxsidebar" role="navigation" aria-label="main navigation">
    <div class="sphinxsidebarwrapper"><h3>Table of Contents</h3><p>sidebar text</p></div>
  </div>
</div>
<div class="footer">&copy; Copyright 2001-2026, Python Software Foundation.</div>
</body>
</html>
"##;

#[test]
fn sphinx_page_keeps_body_headings_and_code_and_drops_chrome() {
    let blocks = html(SPHINX_PAGE);
    let got: Vec<(&str, Vec<String>, (u32, u32), bool)> =
        blocks.iter().map(|b| (b.text.as_str(), b.headings.clone(), b.lines, b.code)).collect();
    let top = h(&["5. Data Structures"]);
    let lists = h(&["5. Data Structures", "5.1. More on Lists"]);
    assert_eq!(
        got,
        vec![
            (
                "This chapter describes some things you’ve learned about already in more detail, and adds some new things as well.",
                top,
                (20, 21),
                false
            ),
            ("list.append(x)", lists.clone(), (26, 26), false),
            (
                "Add an item to the end of the list. Equivalent to a[len(a):] = [x].",
                lists.clone(),
                (27, 27),
                false
            ),
            (
                ">>> fruits = ['orange']\n>>> fruits.count('apple')\n0",
                lists,
                (29, 31),
                true
            ),
        ]
    );
}

#[test]
fn page_text_never_contains_chrome() {
    let all: String = html(SPHINX_PAGE).iter().map(|b| b.text.clone()).collect();
    for chrome in ["menu text", "index", "sidebar text", "Copyright", "color: red", "doctools", "¶", "Navigation"] {
        assert!(!all.contains(chrome), "{chrome:?} leaked into {all:?}");
    }
}

#[test]
fn entities_are_decoded_in_text_and_headings() {
    let blocks = html("<h1>Fish &amp; Chips&nbsp;&para;</h1><p>&lt;b&gt; &quot;q&quot; &apos;a&apos; &copy;&reg; &mdash;&ndash;&hellip; &laquo;&raquo; &lsquo;&rsquo;&ldquo;&rdquo; &sect; &#65;&#x42;&#X43; &nope; AT&T</p>");
    assert_eq!(blocks[0].headings, h(&["Fish & Chips"]));
    assert_eq!(blocks[0].text, "<b> \"q\" 'a' ©® —–… «» ‘’“” § ABC &nope; AT&T");
}

#[test]
fn pre_keeps_line_breaks_and_indentation_and_other_text_is_collapsed() {
    let src = "<p>  spaced\n\n   out\ttext </p>\n<pre>\n\ndef f():\n    return 1\n\n</pre>";
    let blocks = html(src);
    assert_eq!(blocks[0].text, "spaced out text");
    assert_eq!(blocks[0].lines, (1, 3));
    assert_eq!(blocks[1].text, "def f():\n    return 1");
    assert!(blocks[1].code);
    // The newline right after <pre> and the blank line are not content.
    assert_eq!(blocks[1].lines, (6, 7));
}

#[test]
fn block_boundaries_br_and_table_cells() {
    let blocks = html("<div>one<br>two</div><ul><li>a<li>b</ul><table><tr><th>k</th><th>v</th></tr><tr><td>x</td><td>1</td></tr></table><blockquote>q</blockquote>");
    let texts: Vec<&str> = blocks.iter().map(|b| b.text.as_str()).collect();
    assert_eq!(texts, ["one\ntwo", "a", "b", "k | v", "x | 1", "q"]);
}

#[test]
fn title_is_the_top_heading_only_without_h1() {
    let blocks = html("<title>My Page</title><p>intro</p><h2>Part</h2><p>body</p>");
    assert_eq!(blocks[0].headings, h(&["My Page"]));
    assert_eq!(blocks[1].headings, h(&["My Page", "Part"]));
    let blocks = html("<title>My Page</title><h1>Real</h1><p>body</p>");
    assert_eq!(blocks[0].headings, h(&["Real"]));
}

#[test]
fn heading_levels_replace_deeper_entries() {
    let blocks = html("<h1>A</h1><h2>B</h2><h3>C</h3><p>1</p><h2>D</h2><p>2</p><h1>E</h1><p>3</p>");
    let paths: Vec<Vec<String>> = blocks.iter().map(|b| b.headings.clone()).collect();
    assert_eq!(paths, vec![h(&["A", "B", "C"]), h(&["A", "D"]), h(&["E"])]);
}

#[test]
fn script_style_template_noscript_comments_and_hidden_are_skipped() {
    let src = "<p>keep1</p><script>if (a < b) { document.write('<p>no</p>') }</script>\
<style>.x{}</style><template><p>no</p></template><noscript><p>no</p></noscript>\
<!-- <p>no</p> --><div hidden><p>no</p></div><nav><p>no</p></nav><p>keep2</p>";
    let texts: Vec<String> = html(src).into_iter().map(|b| b.text).collect();
    assert_eq!(texts, ["keep1", "keep2"]);
}

#[test]
fn malformed_markup_does_not_panic_and_keeps_the_text() {
    let cases = [
        "<p>a < b and c<d</p>",
        "<p unclosed",
        "<div class=unquoted id='x>text after bad quote</div><p>next</p>",
        "<!-- never closed <p>lost</p>",
        "<script>never closed",
        "<p>one<p>two<div><span>three",
        "</p></div></nope>stray end tags",
        "<<<>>> &#xFFFFFFFF; &#; &",
        "<p>\u{e9}t\u{e9} \u{1F600}</p><",
        "<a href=x title=\"t\">link</a><img src=x alt=y/>after",
    ];
    for case in cases {
        let _ = html(case);
    }
    assert_eq!(html("<p>a < b and c<d</p>")[0].text, "a < b and c");
    let texts: Vec<String> = html("<p>one<p>two<div><span>three").into_iter().map(|b| b.text).collect();
    assert_eq!(texts, ["one", "two", "three"]);
    let texts: Vec<String> = html(cases[2]).into_iter().map(|b| b.text).collect();
    assert_eq!(texts, ["text after bad quote", "next"]);
    assert_eq!(html(cases[6])[0].text, "stray end tags");
    assert!(html("<script>never closed").is_empty());
}

#[test]
fn deeply_nested_unclosed_tags_stay_fast() {
    let src = "<b>x".repeat(200_000);
    let started = std::time::Instant::now();
    let blocks = html(&src);
    assert_eq!(blocks.len(), 1);
    assert!(started.elapsed().as_secs() < 10, "took {:?}", started.elapsed());
}

#[test]
fn skipped_class_elements_nested_in_same_tag_names_close_correctly() {
    let src = "<div class=\"footer\"><div>inner</div>still footer</div><div>after</div>";
    let texts: Vec<String> = html(src).into_iter().map(|b| b.text).collect();
    assert_eq!(texts, ["after"]);
}
