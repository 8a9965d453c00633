//! PDF: the text layer as lopdf extracts it, page by page. Line numbers
//! count lines of the extracted text across the whole document, since a PDF
//! has no source lines; the page is the last heading so a chunk never spans
//! two pages and can be cited by page.

use crate::{is_blank, Block, LoadError, Pending};

pub(crate) fn load(bytes: &[u8]) -> Result<Vec<Block>, LoadError> {
    // lopdf is not hardened against every malformed file; a panic inside it
    // must become an unreadable-PDF error, not take the caller down.
    let result = std::panic::catch_unwind(|| extract(bytes));
    result.unwrap_or_else(|_| Err(LoadError::Pdf("the PDF parser failed on this file".into())))
}

fn declares_encryption(bytes: &[u8]) -> bool {
    bytes.windows(b"/Encrypt".len()).any(|w| w == b"/Encrypt")
}

fn extract(bytes: &[u8]) -> Result<Vec<Block>, LoadError> {
    let doc = match lopdf::Document::load_mem(bytes) {
        Ok(doc) => doc,
        // An encryption scheme lopdf cannot handle fails the load itself.
        Err(_) if declares_encryption(bytes) => return Err(LoadError::EncryptedPdf),
        Err(e) => return Err(LoadError::Pdf(e.to_string())),
    };
    // lopdf decrypts on load when the user password is empty (files that
    // only restrict printing or copying); what stays encrypted needs a
    // password we do not have.
    if doc.is_encrypted() {
        return Err(LoadError::EncryptedPdf);
    }

    let mut out = Vec::new();
    let mut line_no: u32 = 0;
    let mut first_error: Option<String> = None;
    for page in doc.get_pages().into_keys() {
        let mut page_text = String::new();
        for piece in doc.extract_text_chunks(&[page]) {
            match piece {
                Ok(text) => page_text.push_str(&text),
                Err(e) => {
                    first_error.get_or_insert_with(|| format!("page {page}: {e}"));
                }
            }
        }
        let headings = vec![format!("page {page}")];
        let mut para = Pending::default();
        for line in page_text.lines() {
            line_no = line_no.saturating_add(1);
            let line = line.trim_end();
            if is_blank(line) {
                para.flush(&headings, false, &mut out);
            } else {
                para.push(line_no, line);
            }
        }
        para.flush(&headings, false, &mut out);
    }
    if out.is_empty() {
        return Err(match first_error {
            Some(e) => LoadError::Pdf(e),
            None => LoadError::NoText,
        });
    }
    Ok(out)
}
