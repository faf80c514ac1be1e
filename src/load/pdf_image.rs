//! Decoding a PDF image XObject into gray pixels.
//!
//! Scanners write pages as DCTDecode (JPEG), FlateDecode (often with PNG predictors),
//! CCITTFaxDecode (G4 bilevel), or chains such as `[FlateDecode DCTDecode]`. Whatever the
//! encoding and colour space, OCR wants 8-bit gray, so that is what comes out.

use super::{Limits, LoadError};
use image::GrayImage;
use lopdf::{Dictionary, Document, Object, Stream};
use std::io::Read;

/// Decodes one image XObject. `resources` resolves named colour spaces. Damage that
/// still leaves part of the image (data cut short) is decoded as far as it goes and
/// described in `losses`.
pub fn decode_image(
    doc: &Document,
    stream: &Stream,
    resources: Option<&Dictionary>,
    limits: &Limits,
    losses: &mut Vec<String>,
) -> Result<GrayImage, LoadError> {
    let dict = &stream.dict;
    let width = int(doc, dict, b"Width").ok_or_else(|| bad("image has no /Width"))?;
    let height = int(doc, dict, b"Height").ok_or_else(|| bad("image has no /Height"))?;
    if width == 0 || height == 0 {
        return Err(bad("image has zero width or height"));
    }
    limits.check_pixels(width, height)?;
    let is_mask = matches!(
        deref(doc, dict.get(b"ImageMask").ok()),
        Some(Object::Boolean(true))
    );
    let bits = if is_mask {
        1
    } else {
        int(doc, dict, b"BitsPerComponent").unwrap_or(8)
    };
    if !matches!(bits, 1 | 2 | 4 | 8 | 16) {
        return Err(bad(format!("unsupported BitsPerComponent {bits}")));
    }
    let space = if is_mask {
        ColorSpace::Gray
    } else {
        match deref(doc, dict.get(b"ColorSpace").ok()) {
            Some(obj) => ColorSpace::resolve(doc, obj, resources, 0)?,
            // JPEG and JPX carry their own colour space; others default to gray.
            None => ColorSpace::Gray,
        }
    };
    let decode = decode_array(doc, dict);

    let filters = filter_chain(doc, dict)?;
    let mut data: Vec<u8> = stream.content.clone();
    for (i, (name, params)) in filters.iter().enumerate() {
        let last = i + 1 == filters.len();
        match name.as_slice() {
            b"FlateDecode" | b"Fl" => {
                data = predict(inflate(&data, limits)?, params.as_ref(), doc)?
            }
            b"LZWDecode" | b"LZW" => {
                data = predict(
                    lzw(&data, params.as_ref(), doc, limits)?,
                    params.as_ref(),
                    doc,
                )?
            }
            b"ASCIIHexDecode" | b"AHx" => data = ascii_hex(&data)?,
            b"ASCII85Decode" | b"A85" => data = ascii85(&data)?,
            b"RunLengthDecode" | b"RL" => data = run_length(&data, limits)?,
            b"DCTDecode" | b"DCT" if last => {
                return jpeg(&data, width, height, decode.as_deref(), limits, losses);
            }
            b"CCITTFaxDecode" | b"CCF" if last => {
                let samples = ccitt(&data, params.as_ref(), doc, width, height, losses)?;
                // One 0/1 sample per pixel, packed like any 1-bit image below.
                let (image, loss) = to_gray(
                    &samples,
                    width,
                    height,
                    1,
                    &ColorSpace::Gray,
                    decode.as_deref(),
                    true,
                )?;
                losses.extend(loss);
                return Ok(image);
            }
            b"JBIG2Decode" => return Err(bad("JBIG2 images are not supported yet")),
            b"JPXDecode" => return Err(bad("JPEG 2000 (JPXDecode) images are not supported yet")),
            other => {
                return Err(bad(format!(
                    "unsupported filter {} at position {} of the chain",
                    String::from_utf8_lossy(other),
                    i + 1
                )));
            }
        }
    }
    let (image, loss) = to_gray(&data, width, height, bits, &space, decode.as_deref(), false)?;
    losses.extend(loss);
    Ok(image)
}

fn bad(reason: impl Into<String>) -> LoadError {
    LoadError::BadImage(reason.into())
}

fn deref<'a>(doc: &'a Document, obj: Option<&'a Object>) -> Option<&'a Object> {
    let obj = obj?;
    doc.dereference(obj).ok().map(|(_, o)| o)
}

fn int(doc: &Document, dict: &Dictionary, key: &[u8]) -> Option<u32> {
    match deref(doc, dict.get(key).ok())? {
        Object::Integer(v) => u32::try_from(*v).ok(),
        Object::Real(v) if *v >= 0.0 => Some(*v as u32),
        _ => None,
    }
}

fn decode_array(doc: &Document, dict: &Dictionary) -> Option<Vec<f32>> {
    let arr = deref(doc, dict.get(b"Decode").ok())?.as_array().ok()?;
    arr.iter()
        .map(|o| deref(doc, Some(o))?.as_float().ok())
        .collect()
}

type Filter = (Vec<u8>, Option<Dictionary>);

fn filter_chain(doc: &Document, dict: &Dictionary) -> Result<Vec<Filter>, LoadError> {
    let names: Vec<Vec<u8>> = match deref(doc, dict.get(b"Filter").ok()) {
        None | Some(Object::Null) => return Ok(Vec::new()),
        Some(Object::Name(n)) => vec![n.clone()],
        Some(Object::Array(a)) => a
            .iter()
            .map(|o| {
                deref(doc, Some(o))
                    .and_then(|o| o.as_name().ok())
                    .map(<[u8]>::to_vec)
            })
            .collect::<Option<_>>()
            .ok_or_else(|| bad("malformed /Filter array"))?,
        Some(_) => return Err(bad("malformed /Filter")),
    };
    let params: Vec<Option<Dictionary>> = match deref(doc, dict.get(b"DecodeParms").ok()) {
        Some(Object::Dictionary(d)) => vec![Some(d.clone())],
        Some(Object::Array(a)) => a
            .iter()
            .map(|o| deref(doc, Some(o)).and_then(|o| o.as_dict().ok()).cloned())
            .collect(),
        _ => Vec::new(),
    };
    Ok(names
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, params.get(i).cloned().flatten()))
        .collect())
}

fn inflate(data: &[u8], limits: &Limits) -> Result<Vec<u8>, LoadError> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::ZlibDecoder::new(data).take(limits.max_decoded_bytes + 1);
    match decoder.read_to_end(&mut out) {
        Ok(_) => {}
        // Truncated streams are common in scanner output; keep what decoded, as readers do.
        Err(_) if !out.is_empty() => {}
        Err(e) => return Err(bad(format!("FlateDecode failed: {e}"))),
    }
    if out.len() as u64 > limits.max_decoded_bytes {
        return Err(LoadError::TooLarge(format!(
            "image data inflates beyond {} bytes",
            limits.max_decoded_bytes
        )));
    }
    Ok(out)
}

fn lzw(
    data: &[u8],
    params: Option<&Dictionary>,
    doc: &Document,
    limits: &Limits,
) -> Result<Vec<u8>, LoadError> {
    let early = params
        .and_then(|p| int(doc, p, b"EarlyChange"))
        .unwrap_or(1);
    let mut decoder = if early == 1 {
        weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
    } else {
        weezl::decode::Decoder::new(weezl::BitOrder::Msb, 8)
    };
    let mut out = Vec::new();
    let result = decoder.into_stream(&mut out).decode_all(data);
    if let Err(e) = result.status
        && out.is_empty()
    {
        return Err(bad(format!("LZWDecode failed: {e}")));
    }
    if out.len() as u64 > limits.max_decoded_bytes {
        return Err(LoadError::TooLarge("LZW image data too large".into()));
    }
    Ok(out)
}

/// Undoes PNG (10–15) and TIFF (2) predictors.
fn predict(
    data: Vec<u8>,
    params: Option<&Dictionary>,
    doc: &Document,
) -> Result<Vec<u8>, LoadError> {
    let Some(params) = params else {
        return Ok(data);
    };
    let predictor = int(doc, params, b"Predictor").unwrap_or(1);
    if predictor <= 1 {
        return Ok(data);
    }
    let colors = int(doc, params, b"Colors").unwrap_or(1).max(1) as usize;
    let bpc = int(doc, params, b"BitsPerComponent").unwrap_or(8).max(1) as usize;
    let columns = int(doc, params, b"Columns").unwrap_or(1).max(1) as usize;
    let bytes_per_pixel = (colors * bpc).div_ceil(8);
    let row_len = (colors * bpc * columns).div_ceil(8);
    if predictor == 2 {
        if bpc != 8 {
            return Err(bad(format!(
                "TIFF predictor with {bpc} bits per component is not supported"
            )));
        }
        let mut data = data;
        for row in data.chunks_mut(row_len) {
            for i in colors..row.len() {
                row[i] = row[i].wrapping_add(row[i - colors]);
            }
        }
        return Ok(data);
    }
    let mut out = Vec::with_capacity(data.len());
    let mut prev = vec![0u8; row_len];
    for chunk in data.chunks(row_len + 1) {
        if chunk.len() < 2 {
            break;
        }
        let filter = chunk[0];
        let mut row = chunk[1..].to_vec();
        row.resize(row_len, 0);
        for i in 0..row_len {
            let left = if i >= bytes_per_pixel {
                row[i - bytes_per_pixel]
            } else {
                0
            };
            let up = prev[i];
            let up_left = if i >= bytes_per_pixel {
                prev[i - bytes_per_pixel]
            } else {
                0
            };
            row[i] = match filter {
                0 => row[i],
                1 => row[i].wrapping_add(left),
                2 => row[i].wrapping_add(up),
                3 => row[i].wrapping_add(((left as u16 + up as u16) / 2) as u8),
                4 => row[i].wrapping_add(paeth(left, up, up_left)),
                f => return Err(bad(format!("unknown PNG predictor row filter {f}"))),
            };
        }
        out.extend_from_slice(&row);
        prev = row;
    }
    Ok(out)
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = a as i16 + b as i16 - c as i16;
    let (pa, pb, pc) = (
        (p - a as i16).abs(),
        (p - b as i16).abs(),
        (p - c as i16).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

fn ascii_hex(data: &[u8]) -> Result<Vec<u8>, LoadError> {
    let digits: Vec<u8> = data
        .iter()
        .copied()
        .take_while(|&c| c != b'>')
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(digits.len() / 2 + 1);
    for pair in digits.chunks(2) {
        let hi = hex_digit(pair[0])?;
        let lo = pair.get(1).map(|&c| hex_digit(c)).transpose()?.unwrap_or(0);
        out.push(hi << 4 | lo);
    }
    Ok(out)
}

fn hex_digit(c: u8) -> Result<u8, LoadError> {
    (c as char)
        .to_digit(16)
        .map(|d| d as u8)
        .ok_or_else(|| bad("invalid character in ASCIIHexDecode data"))
}

fn ascii85(data: &[u8]) -> Result<Vec<u8>, LoadError> {
    let mut out = Vec::new();
    let mut group = [0u8; 5];
    let mut n = 0;
    for &c in data {
        match c {
            b'~' => break,
            b'z' if n == 0 => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                group[n] = c - b'!';
                n += 1;
                if n == 5 {
                    let v = group.iter().fold(0u64, |acc, &d| acc * 85 + d as u64);
                    out.extend_from_slice(&(v as u32).to_be_bytes());
                    n = 0;
                }
            }
            c if c.is_ascii_whitespace() => {}
            _ => return Err(bad("invalid character in ASCII85Decode data")),
        }
    }
    if n > 1 {
        for slot in group.iter_mut().skip(n) {
            *slot = 84;
        }
        let v = group.iter().fold(0u64, |acc, &d| acc * 85 + d as u64);
        out.extend_from_slice(&(v as u32).to_be_bytes()[..n - 1]);
    }
    Ok(out)
}

fn run_length(data: &[u8], limits: &Limits) -> Result<Vec<u8>, LoadError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let len = data[i];
        i += 1;
        match len {
            128 => break,
            0..=127 => {
                let end = (i + len as usize + 1).min(data.len());
                out.extend_from_slice(&data[i..end]);
                i = end;
            }
            _ => {
                if let Some(&b) = data.get(i) {
                    out.extend(std::iter::repeat_n(b, 257 - len as usize));
                }
                i += 1;
            }
        }
        if out.len() as u64 > limits.max_decoded_bytes {
            return Err(LoadError::TooLarge("RunLength image data too large".into()));
        }
    }
    Ok(out)
}

/// A JPEG whose scan data has no end-of-image marker after it was cut off mid-scan:
/// decoders fill the rest with gray, silently. Bytes after the marker (scanner
/// trailers, a second picture) are not damage. The marker segments before the first
/// scan are walked by their lengths, so an EXIF thumbnail's own marker does not count;
/// inside scan data `FF D9` can only be the marker (other `FF`s are stuffed).
pub fn jpeg_is_cut(data: &[u8]) -> bool {
    let mut at = 2;
    while at + 4 <= data.len() {
        if data[at] != 0xFF {
            return true;
        }
        match data[at + 1] {
            // Fill byte before a marker.
            0xFF => at += 1,
            0xDA => return !data[at..].windows(2).any(|w| w == [0xFF, 0xD9]),
            0x01 | 0xD0..=0xD7 => at += 2,
            _ => at += 2 + u16::from_be_bytes([data[at + 2], data[at + 3]]) as usize,
        }
    }
    true
}

fn jpeg(
    data: &[u8],
    width: u32,
    height: u32,
    decode: Option<&[f32]>,
    limits: &Limits,
    losses: &mut Vec<String>,
) -> Result<GrayImage, LoadError> {
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(data), image::ImageFormat::Jpeg);
    reader.limits(limits.image_limits());
    let img = reader
        .decode()
        .map_err(|e| bad(format!("DCTDecode failed: {e}")))?;
    if jpeg_is_cut(data) {
        losses.push(
            "the JPEG image is cut off before its end: the rest of the page is missing".into(),
        );
    }
    // When the dictionary's /Width and /Height disagree with the JPEG header, the header
    // wins: it describes the pixels actually there.
    let _ = (width, height);
    let mut gray = img.to_luma8();
    // A /Decode of [1 0] (or [1 0 1 0 1 0 ...]) inverts a JPEG, as some scanners write CMYK.
    if decode.is_some_and(|d| d.len() >= 2 && d[0] > d[1]) {
        image::imageops::invert(&mut gray);
    }
    Ok(gray)
}

/// Decodes CCITT fax data into one byte per pixel holding the PDF sample value (0 or 1).
fn ccitt(
    data: &[u8],
    params: Option<&Dictionary>,
    doc: &Document,
    width: u32,
    height: u32,
    losses: &mut Vec<String>,
) -> Result<Vec<u8>, LoadError> {
    let get = |key: &[u8]| params.and_then(|p| deref(doc, p.get(key).ok()));
    let k = match get(b"K") {
        Some(Object::Integer(k)) => *k,
        _ => 0,
    };
    let columns = match get(b"Columns") {
        Some(Object::Integer(c)) if *c > 0 => *c as u32,
        _ => 1728,
    };
    let black_is_1 = matches!(get(b"BlackIs1"), Some(Object::Boolean(true)));
    if columns != width {
        return Err(bad(format!(
            "CCITT /Columns {columns} differs from image /Width {width}"
        )));
    }
    let mut samples = Vec::with_capacity(width as usize * height as usize);
    let mut rows = 0u32;
    let mut on_line = |transitions: &[u32]| {
        if rows >= height {
            return;
        }
        rows += 1;
        samples.extend(fax::decoder::pels(transitions, columns).map(|c| {
            // Under BlackIs1 false (the default), black pixels are 0 samples.
            u8::from((c == fax::Color::Black) == black_is_1)
        }));
    };
    let ok = if k < 0 {
        fax::decoder::decode_g4(data.iter().copied(), columns, Some(height), &mut on_line)
    } else if k == 0 {
        fax::decoder::decode_g3(data.iter().copied(), &mut on_line)
    } else {
        return Err(bad(
            "CCITT Group 3 two-dimensional (K > 0) images are not supported",
        ));
    };
    if ok.is_none() && rows == 0 {
        return Err(bad("CCITTFaxDecode failed: no line could be decoded"));
    }
    // Missing trailing lines are white (encoders omit them); pad with the white sample.
    // Stopping on bad data, though, is damage.
    if ok.is_none() && rows < height {
        losses.push(format!(
            "the fax-coded image breaks off after line {rows} of {height}: the rest is missing"
        ));
    }
    let white = u8::from(!black_is_1);
    samples.resize(width as usize * height as usize, white);
    Ok(samples)
}

#[derive(Debug, Clone)]
enum ColorSpace {
    Gray,
    Rgb,
    Cmyk,
    /// A single ink: tint 1 is full ink, so dark.
    Separation,
    /// N inks; shown as the mean ink coverage.
    DeviceN(usize),
    Indexed {
        base: Box<ColorSpace>,
        hival: u32,
        lookup: Vec<u8>,
    },
}

impl ColorSpace {
    fn components(&self) -> usize {
        match self {
            ColorSpace::Gray | ColorSpace::Separation | ColorSpace::Indexed { .. } => 1,
            ColorSpace::Rgb => 3,
            ColorSpace::Cmyk => 4,
            ColorSpace::DeviceN(n) => *n,
        }
    }

    fn resolve(
        doc: &Document,
        obj: &Object,
        resources: Option<&Dictionary>,
        depth: u32,
    ) -> Result<ColorSpace, LoadError> {
        if depth > 4 {
            return Err(bad("colour space nesting too deep"));
        }
        let obj = doc.dereference(obj).map(|(_, o)| o).unwrap_or(obj);
        match obj {
            Object::Name(name) => match name.as_slice() {
                b"DeviceGray" | b"G" | b"CalGray" => Ok(ColorSpace::Gray),
                b"DeviceRGB" | b"RGB" | b"CalRGB" | b"Lab" => Ok(ColorSpace::Rgb),
                b"DeviceCMYK" | b"CMYK" => Ok(ColorSpace::Cmyk),
                other => {
                    // A named colour space from the page's /Resources /ColorSpace.
                    let named = resources
                        .and_then(|r| deref(doc, r.get(b"ColorSpace").ok()))
                        .and_then(|cs| cs.as_dict().ok())
                        .and_then(|cs| deref(doc, cs.get(other).ok()));
                    match named {
                        Some(o) => ColorSpace::resolve(doc, o, resources, depth + 1),
                        None => Err(bad(format!(
                            "unknown colour space {}",
                            String::from_utf8_lossy(other)
                        ))),
                    }
                }
            },
            Object::Array(arr) => {
                let family = arr.first().and_then(|o| o.as_name().ok()).unwrap_or(b"");
                match family {
                    b"DeviceGray" | b"CalGray" => Ok(ColorSpace::Gray),
                    b"DeviceRGB" | b"CalRGB" | b"Lab" => Ok(ColorSpace::Rgb),
                    b"DeviceCMYK" => Ok(ColorSpace::Cmyk),
                    b"ICCBased" => {
                        let n = arr
                            .get(1)
                            .and_then(|o| deref(doc, Some(o)))
                            .and_then(|o| o.as_stream().ok())
                            .and_then(|s| int(doc, &s.dict, b"N"))
                            .unwrap_or(3);
                        Ok(match n {
                            1 => ColorSpace::Gray,
                            4 => ColorSpace::Cmyk,
                            _ => ColorSpace::Rgb,
                        })
                    }
                    b"Indexed" | b"I" => {
                        let base = arr
                            .get(1)
                            .ok_or_else(|| bad("Indexed colour space has no base"))?;
                        let base = ColorSpace::resolve(doc, base, resources, depth + 1)?;
                        let hival = arr
                            .get(2)
                            .and_then(|o| deref(doc, Some(o)))
                            .and_then(|o| o.as_i64().ok())
                            .unwrap_or(255)
                            .clamp(0, 255) as u32;
                        let lookup = match arr.get(3).and_then(|o| deref(doc, Some(o))) {
                            Some(Object::String(bytes, _)) => bytes.clone(),
                            Some(Object::Stream(s)) => s
                                .decompressed_content()
                                .unwrap_or_else(|_| s.content.clone()),
                            _ => return Err(bad("Indexed colour space has no lookup table")),
                        };
                        Ok(ColorSpace::Indexed {
                            base: Box::new(base),
                            hival,
                            lookup,
                        })
                    }
                    b"Separation" => Ok(ColorSpace::Separation),
                    b"DeviceN" => {
                        let n = arr
                            .get(1)
                            .and_then(|o| deref(doc, Some(o)))
                            .and_then(|o| o.as_array().ok())
                            .map_or(1, Vec::len);
                        Ok(ColorSpace::DeviceN(n.max(1)))
                    }
                    other => Err(bad(format!(
                        "unsupported colour space {}",
                        String::from_utf8_lossy(other)
                    ))),
                }
            }
            _ => Err(bad("malformed colour space")),
        }
    }

    /// Gray (0 black .. 1 white) from component values in [0, 1].
    fn gray(&self, c: &[f32]) -> f32 {
        match self {
            ColorSpace::Gray => c[0],
            ColorSpace::Rgb => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2],
            ColorSpace::Cmyk => {
                let k = 1.0 - c[3];
                let (r, g, b) = ((1.0 - c[0]) * k, (1.0 - c[1]) * k, (1.0 - c[2]) * k);
                0.299 * r + 0.587 * g + 0.114 * b
            }
            ColorSpace::Separation => 1.0 - c[0],
            ColorSpace::DeviceN(_) => 1.0 - c.iter().sum::<f32>() / c.len() as f32,
            ColorSpace::Indexed { .. } => c[0],
        }
    }
}

/// Unpacks samples of `bits` bits and maps them through /Decode and the colour space.
/// `one_sample_per_byte` says the data is already one byte per sample (CCITT output).
fn to_gray(
    data: &[u8],
    width: u32,
    height: u32,
    bits: u32,
    space: &ColorSpace,
    decode: Option<&[f32]>,
    one_sample_per_byte: bool,
) -> Result<(GrayImage, Option<String>), LoadError> {
    let comps = space.components();
    let (w, h) = (width as usize, height as usize);
    let row_bytes = if one_sample_per_byte {
        w * comps
    } else {
        (w * comps * bits as usize).div_ceil(8)
    };
    let needed = row_bytes * h;
    let mut loss = None;
    if data.len() < needed {
        // Short data is common in damaged scans: decode what is there, pad the rest white.
        if data.len() < row_bytes {
            return Err(bad(format!(
                "image data too short: {} bytes for {}x{}",
                data.len(),
                width,
                height
            )));
        }
        let rows = data.len() / row_bytes;
        loss = Some(format!(
            "the image data ends after row {rows} of {h} ({}% of the image): the rest is blank",
            rows * 100 / h
        ));
    }
    let max = ((1u32 << bits) - 1) as f32;
    // Default /Decode is [0 1] per component, [0 2^bits-1] for Indexed.
    let ranges: Vec<(f32, f32)> = (0..comps)
        .map(|i| match decode {
            Some(d) if d.len() >= 2 * (i + 1) => (d[2 * i], d[2 * i + 1]),
            _ => match space {
                ColorSpace::Indexed { .. } => (0.0, max),
                _ => (0.0, 1.0),
            },
        })
        .collect();
    let mut out = GrayImage::from_pixel(width, height, image::Luma([255]));
    let mut comp = vec![0f32; comps];
    // Reads sample `index` of a row.
    let sample = |row: &[u8], index: usize| -> u32 {
        if one_sample_per_byte {
            return row[index] as u32;
        }
        match bits {
            8 => row[index] as u32,
            16 => u16::from_be_bytes([row[2 * index], row[2 * index + 1]]) as u32 >> 8,
            _ => {
                let bit = index * bits as usize;
                let byte = row[bit / 8];
                let shift = 8 - bits as usize - (bit % 8);
                ((byte >> shift) & ((1u8 << bits) - 1)) as u32
            }
        }
    };
    let sample_max = if bits == 16 { 255.0 } else { max };
    let rows_available = (data.len() / row_bytes).min(h);
    for y in 0..rows_available {
        let row = &data[y * row_bytes..(y + 1) * row_bytes];
        for x in 0..w {
            for (i, c) in comp.iter_mut().enumerate() {
                let s = sample(row, x * comps + i) as f32;
                let (dmin, dmax) = ranges[i];
                *c = dmin + s * (dmax - dmin) / sample_max;
            }
            let g = match space {
                ColorSpace::Indexed {
                    base,
                    hival,
                    lookup,
                } => {
                    let idx = (comp[0].round().max(0.0) as u32).min(*hival) as usize;
                    let n = base.components();
                    let entry: Vec<f32> = (0..n)
                        .map(|j| lookup.get(idx * n + j).copied().unwrap_or(255) as f32 / 255.0)
                        .collect();
                    base.gray(&entry)
                }
                _ => space.gray(&comp),
            };
            out.put_pixel(
                x as u32,
                y as u32,
                image::Luma([(g.clamp(0.0, 1.0) * 255.0).round() as u8]),
            );
        }
    }
    Ok((out, loss))
}
