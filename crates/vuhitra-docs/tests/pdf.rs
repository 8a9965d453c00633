//! PDF loading on documents written by lopdf itself, so the tests need no
//! binary fixtures.

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, EncryptionState, EncryptionVersion, Object, Permissions, Stream};
use vuhitra_docs::{load, DocKind, LoadError};

/// One page per entry; each entry is the lines of text on that page (an
/// empty entry makes a page with no text operators, like a scanned page).
fn build(pages: &[&[&str]]) -> Document {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    let mut kids = Vec::new();
    for lines in pages {
        let mut ops = Vec::new();
        let mut y = 750;
        for line in *lines {
            // One text object per line: lopdf ends each with a line break.
            ops.push(Operation::new("BT", vec![]));
            ops.push(Operation::new("Tf", vec!["F1".into(), 12.into()]));
            ops.push(Operation::new("Td", vec![72.into(), y.into()]));
            ops.push(Operation::new("Tj", vec![Object::string_literal(*line)]));
            ops.push(Operation::new("ET", vec![]));
            y -= 16;
        }
        if lines.is_empty() {
            // Draw a rectangle so the page is not empty, only textless.
            ops.push(Operation::new("re", vec![10.into(), 10.into(), 100.into(), 100.into()]));
            ops.push(Operation::new("f", vec![]));
        }
        let content = Content { operations: ops };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
        kids.push(Object::from(doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
        })));
    }
    let count = i64::try_from(kids.len()).unwrap();
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    doc.trailer.set("Root", catalog_id);
    doc.trailer.set("ID", vec![Object::string_literal("0123456789abcdef"), Object::string_literal("0123456789abcdef")]);
    doc
}

fn bytes(mut doc: Document) -> Vec<u8> {
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

fn encrypted(user_password: &str) -> Vec<u8> {
    let mut doc = build(&[&["Secret text."]]);
    let state = EncryptionState::try_from(EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner",
        user_password,
        key_length: 128,
        permissions: Permissions::PRINTABLE,
    })
    .unwrap();
    doc.encrypt(&state).unwrap();
    bytes(doc)
}

#[test]
fn text_layer_becomes_blocks_headed_by_page_with_document_wide_lines() {
    let pdf = bytes(build(&[&["Hello PDF world.", "Second line."], &["Page two text."]]));
    let blocks = load(&DocKind::Pdf, &pdf).unwrap();
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    assert_eq!(blocks[0].text, "Hello PDF world.\nSecond line.");
    assert_eq!(blocks[0].headings, vec!["page 1".to_string()]);
    assert_eq!(blocks[0].lines, (1, 2));
    assert_eq!(blocks[1].text, "Page two text.");
    assert_eq!(blocks[1].headings, vec!["page 2".to_string()]);
    assert_eq!(blocks[1].lines, (3, 3));
    assert!(blocks.iter().all(|b| !b.code));
}

#[test]
fn textless_pages_are_skipped_and_an_all_image_pdf_has_no_text() {
    let pdf = bytes(build(&[&[], &["Only here."]]));
    let blocks = load(&DocKind::Pdf, &pdf).unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].headings, vec!["page 2".to_string()]);

    let pdf = bytes(build(&[&[], &[]]));
    let err = load(&DocKind::Pdf, &pdf).unwrap_err();
    assert!(matches!(err, LoadError::NoText), "{err:?}");
}

#[test]
fn password_protected_pdf_is_reported_as_encrypted() {
    let err = load(&DocKind::Pdf, &encrypted("user-secret")).unwrap_err();
    assert!(matches!(err, LoadError::EncryptedPdf), "{err:?}");
}

#[test]
fn pdf_encrypted_with_empty_user_password_is_read() {
    // Permission-only encryption: every viewer opens it without a password.
    let blocks = load(&DocKind::Pdf, &encrypted("")).unwrap();
    assert_eq!(blocks[0].text, "Secret text.");
}

#[test]
fn garbage_is_an_unreadable_pdf_not_a_panic() {
    let err = load(&DocKind::Pdf, b"%PDF-1.4\nthis is not really a pdf").unwrap_err();
    assert!(matches!(err, LoadError::Pdf(_)), "{err:?}");
    let err = load(&DocKind::Pdf, b"\x00\x01\x02 binary junk").unwrap_err();
    assert!(matches!(err, LoadError::Pdf(_)), "{err:?}");
}
