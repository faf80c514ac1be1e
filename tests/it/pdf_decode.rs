//! Every image encoding scanners put in PDFs decodes to the right pixels.

use crate::support::{bilevel_pattern, page_image, pattern, pdf_with_image, pdf_with_images};
use image::{GrayImage, ImageEncoder};
use lopdf::{Dictionary, Object, dictionary};
use std::io::Write;

const W: u32 = 64;
const H: u32 = 48;

/// Builds a one-page PDF from `dict` + `data`, decodes it, and compares with `expect`
/// pixel by pixel, allowing `tolerance` levels of difference (lossy codecs).
fn check(name: &str, dict: Dictionary, data: Vec<u8>, expect: &GrayImage, tolerance: u8) {
    for in_form in [false, true] {
        let pdf = pdf_with_image(dict.clone(), data.clone(), in_form);
        let got = page_image(pdf).unwrap_or_else(|e| panic!("{name} (in form: {in_form}): {e}"));
        assert_same(name, &got, expect, tolerance);
    }
}

fn assert_same(name: &str, got: &GrayImage, expect: &GrayImage, tolerance: u8) {
    assert_eq!(got.dimensions(), expect.dimensions(), "{name}: dimensions");
    let worst = got
        .pixels()
        .zip(expect.pixels())
        .map(|(a, b)| a.0[0].abs_diff(b.0[0]))
        .max()
        .unwrap_or(0);
    assert!(
        worst <= tolerance,
        "{name}: a pixel differs by {worst} (tolerance {tolerance})"
    );
}

fn image_dict(color_space: Object, bits: i64) -> Dictionary {
    dictionary! {
        "Width" => W as i64,
        "Height" => H as i64,
        "ColorSpace" => color_space,
        "BitsPerComponent" => bits,
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn jpeg(img: &image::DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut out),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    out
}

/// Packs 0/255 pixels into 1-bit rows; `ink_bit` is the bit value for black.
fn pack_bits(img: &GrayImage, ink_bit: u8) -> Vec<u8> {
    let mut out = Vec::new();
    for row in img.rows() {
        let mut byte = 0u8;
        let mut n = 0;
        for px in row {
            let bit = if px.0[0] < 128 { ink_bit } else { 1 - ink_bit };
            byte = byte << 1 | bit;
            n += 1;
            if n == 8 {
                out.push(byte);
                byte = 0;
                n = 0;
            }
        }
        if n > 0 {
            out.push(byte << (8 - n));
        }
    }
    out
}

fn g4(img: &GrayImage) -> Vec<u8> {
    let mut encoder = fax::encoder::Encoder::new(fax::VecWriter::new());
    for row in img.rows() {
        let pels = row.map(|p| {
            if p.0[0] < 128 {
                fax::Color::Black
            } else {
                fax::Color::White
            }
        });
        encoder.encode_line(pels, img.width()).unwrap();
    }
    encoder.finish().unwrap().finish()
}

#[test]
fn raw_gray() {
    let img = pattern(W, H);
    check(
        "raw DeviceGray",
        image_dict("DeviceGray".into(), 8),
        img.as_raw().clone(),
        &img,
        0,
    );
}

#[test]
fn flate() {
    let img = pattern(W, H);
    let mut dict = image_dict("DeviceGray".into(), 8);
    dict.set("Filter", "FlateDecode");
    check("FlateDecode", dict, deflate(img.as_raw()), &img, 0);
}

#[test]
fn flate_with_png_predictors() {
    let img = pattern(W, H);
    // Encode each row with a different PNG filter type, as PNG encoders choose per row.
    let mut encoded = Vec::new();
    let mut prev = vec![0u8; W as usize];
    for (y, row) in img.rows().enumerate() {
        let row: Vec<u8> = row.map(|p| p.0[0]).collect();
        let kind = (y % 5) as u8;
        encoded.push(kind);
        for x in 0..row.len() {
            let left = if x > 0 { row[x - 1] } else { 0 };
            let up = prev[x];
            let up_left = if x > 0 { prev[x - 1] } else { 0 };
            let predicted = match kind {
                0 => 0,
                1 => left,
                2 => up,
                3 => ((left as u16 + up as u16) / 2) as u8,
                _ => {
                    let p = left as i16 + up as i16 - up_left as i16;
                    let (pa, pb, pc) = (
                        (p - left as i16).abs(),
                        (p - up as i16).abs(),
                        (p - up_left as i16).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        left
                    } else if pb <= pc {
                        up
                    } else {
                        up_left
                    }
                }
            };
            encoded.push(row[x].wrapping_sub(predicted));
        }
        prev = row;
    }
    let mut dict = image_dict("DeviceGray".into(), 8);
    dict.set("Filter", "FlateDecode");
    dict.set("DecodeParms", dictionary! { "Predictor" => 15, "Colors" => 1, "BitsPerComponent" => 8, "Columns" => W as i64 });
    check("Flate + PNG predictors", dict, deflate(&encoded), &img, 0);
}

#[test]
fn flate_with_tiff_predictor() {
    let img = pattern(W, H);
    let mut encoded = Vec::new();
    for row in img.rows() {
        let row: Vec<u8> = row.map(|p| p.0[0]).collect();
        for x in 0..row.len() {
            encoded.push(if x == 0 {
                row[0]
            } else {
                row[x].wrapping_sub(row[x - 1])
            });
        }
    }
    let mut dict = image_dict("DeviceGray".into(), 8);
    dict.set("Filter", "FlateDecode");
    dict.set(
        "DecodeParms",
        dictionary! { "Predictor" => 2, "Colors" => 1, "Columns" => W as i64 },
    );
    check("Flate + TIFF predictor", dict, deflate(&encoded), &img, 0);
}

#[test]
fn lzw_and_ascii_filters() {
    let img = pattern(W, H);
    let lzw = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
        .encode(img.as_raw())
        .unwrap();
    let mut dict = image_dict("DeviceGray".into(), 8);
    dict.set("Filter", "LZWDecode");
    check("LZWDecode", dict, lzw, &img, 0);

    let hex: Vec<u8> = hex::encode(deflate(img.as_raw()))
        .into_bytes()
        .into_iter()
        .chain(*b">")
        .collect();
    let mut dict = image_dict("DeviceGray".into(), 8);
    dict.set(
        "Filter",
        vec![
            Object::Name(b"ASCIIHexDecode".to_vec()),
            Object::Name(b"FlateDecode".to_vec()),
        ],
    );
    check("[ASCIIHexDecode FlateDecode]", dict, hex, &img, 0);
}

#[test]
fn dct_gray_rgb_and_chained() {
    let img = pattern(W, H);
    let gray_jpeg = jpeg(&image::DynamicImage::ImageLuma8(img.clone()));
    let mut dict = image_dict("DeviceGray".into(), 8);
    dict.set("Filter", "DCTDecode");
    // JPEG is lossy: the pattern's sharp edges move a few levels.
    check("DCTDecode gray", dict.clone(), gray_jpeg.clone(), &img, 40);

    let mut chained = dict.clone();
    chained.set(
        "Filter",
        vec![
            Object::Name(b"FlateDecode".to_vec()),
            Object::Name(b"DCTDecode".to_vec()),
        ],
    );
    check(
        "[FlateDecode DCTDecode]",
        chained,
        deflate(&gray_jpeg),
        &img,
        40,
    );

    let flat = GrayImage::from_pixel(W, H, image::Luma([90]));
    let rgb = image::RgbImage::from_pixel(W, H, image::Rgb([90, 90, 90]));
    let mut dict = image_dict("DeviceRGB".into(), 8);
    dict.set("Filter", "DCTDecode");
    check(
        "DCTDecode RGB",
        dict,
        jpeg(&image::DynamicImage::ImageRgb8(rgb)),
        &flat,
        3,
    );
}

#[test]
fn ccitt_g4_both_polarities() {
    let img = bilevel_pattern(W, H);
    let data = g4(&img);
    let mut dict = image_dict("DeviceGray".into(), 1);
    dict.set("Filter", "CCITTFaxDecode");
    dict.set(
        "DecodeParms",
        dictionary! { "K" => -1, "Columns" => W as i64, "Rows" => H as i64 },
    );
    check("CCITT G4", dict.clone(), data.clone(), &img, 0);

    // BlackIs1 true: black pixels are 1 samples, which DeviceGray shows white unless
    // /Decode [1 0] says otherwise, exactly as a PDF viewer renders it.
    let mut inverted = dict.clone();
    inverted.set(
        "DecodeParms",
        dictionary! { "K" => -1, "Columns" => W as i64, "Rows" => H as i64, "BlackIs1" => true },
    );
    let mut negative = img.clone();
    image::imageops::invert(&mut negative);
    check(
        "CCITT G4 BlackIs1",
        inverted.clone(),
        data.clone(),
        &negative,
        0,
    );
    inverted.set("Decode", vec![1.into(), 0.into()]);
    check("CCITT G4 BlackIs1 + Decode [1 0]", inverted, data, &img, 0);
}

#[test]
fn one_bit_with_decode_array_and_image_mask() {
    let img = bilevel_pattern(W, H);
    check(
        "1-bit gray",
        image_dict("DeviceGray".into(), 1),
        pack_bits(&img, 0),
        &img,
        0,
    );

    let mut dict = image_dict("DeviceGray".into(), 1);
    dict.set("Decode", vec![1.into(), 0.into()]);
    check(
        "1-bit gray, Decode [1 0]",
        dict,
        pack_bits(&img, 1),
        &img,
        0,
    );

    let mask = dictionary! { "Width" => W as i64, "Height" => H as i64, "ImageMask" => true };
    check("ImageMask", mask, pack_bits(&img, 0), &img, 0);
}

#[test]
fn four_bit_gray() {
    let img = GrayImage::from_fn(W, H, |x, y| image::Luma([(((x + y) % 16) * 17) as u8]));
    let mut data = Vec::new();
    for row in img.rows() {
        let v: Vec<u8> = row.map(|p| p.0[0] / 17).collect();
        for pair in v.chunks(2) {
            data.push(pair[0] << 4 | pair.get(1).copied().unwrap_or(0));
        }
    }
    check(
        "4-bit gray",
        image_dict("DeviceGray".into(), 4),
        data,
        &img,
        0,
    );
}

fn luma(r: u8, g: u8, b: u8) -> u8 {
    (0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32).round() as u8
}

#[test]
fn colour_spaces() {
    let rgb = image::RgbImage::from_fn(W, H, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x + y) * 2) as u8])
    });
    let expect = GrayImage::from_fn(W, H, |x, y| {
        let p = rgb.get_pixel(x, y);
        image::Luma([luma(p[0], p[1], p[2])])
    });
    check(
        "DeviceRGB",
        image_dict("DeviceRGB".into(), 8),
        rgb.as_raw().clone(),
        &expect,
        1,
    );

    let gray = pattern(W, H);
    let icc_gray = Object::Array(vec![Object::Name(b"DeviceGray".to_vec())]);
    check(
        "[DeviceGray] array form",
        image_dict(icc_gray, 8),
        gray.as_raw().clone(),
        &gray,
        0,
    );

    let cmyk: Vec<u8> = (0..W * H)
        .flat_map(|i| [(i % 200) as u8, 0, 0, 40])
        .collect();
    let expect = GrayImage::from_fn(W, H, |x, y| {
        let i = y * W + x;
        let (c, k) = ((i % 200) as f32 / 255.0, 40.0 / 255.0);
        let r = (1.0 - c) * (1.0 - k);
        let g = 1.0 - k;
        image::Luma([((0.299 * r + 0.587 * g + 0.114 * g) * 255.0).round() as u8])
    });
    check(
        "DeviceCMYK",
        image_dict("DeviceCMYK".into(), 8),
        cmyk,
        &expect,
        1,
    );

    let palette: Vec<u8> = (0..=255u8).flat_map(|i| [i, 255 - i, i / 2]).collect();
    let indices = pattern(W, H);
    let expect = GrayImage::from_fn(W, H, |x, y| {
        let i = indices.get_pixel(x, y).0[0];
        image::Luma([luma(i, 255 - i, i / 2)])
    });
    let indexed = Object::Array(vec![
        Object::Name(b"Indexed".to_vec()),
        Object::Name(b"DeviceRGB".to_vec()),
        255.into(),
        Object::String(palette, lopdf::StringFormat::Hexadecimal),
    ]);
    check(
        "Indexed RGB",
        image_dict(indexed, 8),
        indices.as_raw().clone(),
        &expect,
        1,
    );
}

#[test]
fn icc_based_uses_the_profile_component_count() {
    // Built by hand because the ICC stream must be an indirect object.
    let gray = pattern(W, H);
    let mut doc = lopdf::Document::with_version("1.5");
    let icc = doc.add_object(lopdf::Stream::new(dictionary! { "N" => 1 }, vec![0; 16]));
    let cs = Object::Array(vec![
        Object::Name(b"ICCBased".to_vec()),
        Object::Reference(icc),
    ]);
    let mut dict = image_dict(cs, 8);
    dict.set("Type", "XObject");
    dict.set("Subtype", "Image");
    let image_id = doc.add_object(lopdf::Stream::new(dict, gray.as_raw().clone()));
    let content = doc.add_object(lopdf::Stream::new(
        Dictionary::new(),
        b"q 200 0 0 100 0 0 cm /Im0 Do Q".to_vec(),
    ));
    let page = dictionary! {
        "Contents" => content,
        "MediaBox" => vec![0.into(), 0.into(), 200.into(), 100.into()],
        "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image_id } },
    };
    let bytes = crate::support::one_page_pdf(doc, page);
    let got = page_image(bytes).unwrap();
    assert_same("ICCBased N=1", &got, &gray, 0);
}

#[test]
fn strips_are_composited_into_one_page() {
    // Some scanners write a page as horizontal bands; the page must come out whole.
    let full = pattern(W, H);
    let top = image::imageops::crop_imm(&full, 0, 0, W, H / 2).to_image();
    let bottom = image::imageops::crop_imm(&full, 0, H / 2, W, H / 2).to_image();
    let dict = dictionary! { "Width" => W as i64, "Height" => (H / 2) as i64, "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8 };
    // Page is 200 x 100 pt: the top band occupies y 50..100, the bottom band y 0..50.
    let pdf = pdf_with_images(
        vec![
            (
                dict.clone(),
                top.as_raw().clone(),
                [200.0, 0.0, 0.0, 50.0, 0.0, 50.0],
            ),
            (
                dict,
                bottom.as_raw().clone(),
                [200.0, 0.0, 0.0, 50.0, 0.0, 0.0],
            ),
        ],
        false,
        None,
    );
    let got = page_image(pdf).unwrap();
    // Composited at the bands' resolution (64 px over 200 pt): the same pixels back.
    assert_same("two bands", &got, &full, 0);
}

#[test]
fn page_rotate_turns_the_image() {
    let img = pattern(W, H);
    let pdf = pdf_with_images(
        vec![(
            image_dict("DeviceGray".into(), 8),
            img.as_raw().clone(),
            [200.0, 0.0, 0.0, 100.0, 0.0, 0.0],
        )],
        false,
        Some(90),
    );
    let got = page_image(pdf).unwrap();
    assert_same("/Rotate 90", &got, &image::imageops::rotate90(&img), 0);
}

#[test]
fn broken_images_are_clear_errors() {
    let mut dict = image_dict("DeviceGray".into(), 8);
    dict.set("Filter", "JBIG2Decode");
    let err = page_image(pdf_with_image(dict, vec![0; 10], false)).unwrap_err();
    assert!(err.contains("JBIG2"), "{err}");

    let mut dict = image_dict("DeviceGray".into(), 8);
    dict.set("Filter", "DCTDecode");
    let err = page_image(pdf_with_image(dict, b"not a jpeg".to_vec(), false)).unwrap_err();
    assert!(err.contains("DCTDecode"), "{err}");

    let huge = dictionary! { "Width" => 100_000, "Height" => 100_000, "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8 };
    let err = page_image(pdf_with_image(huge, vec![0; 10], false)).unwrap_err();
    assert!(err.contains("exceeds the limit"), "{err}");
}

/// PNG bytes for a quick check that raster files load too.
pub fn png(img: &GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::L8,
        )
        .unwrap();
    out
}

#[test]
fn raster_files_load() {
    let img = pattern(W, H);
    let got = crate::support::page_image(png(&img)).unwrap();
    assert_same("PNG", &got, &img, 0);
}

/// The test-pattern PDF, encrypted (RC4, 128-bit) with `user_password`.
fn encrypted(user_password: &str) -> Vec<u8> {
    let img = pattern(W, H);
    let plain = pdf_with_image(
        image_dict("DeviceGray".into(), 8),
        img.as_raw().clone(),
        false,
    );
    crate::support::encrypt(&plain, user_password)
}

#[test]
fn encrypted_with_empty_user_password_opens() {
    let got = page_image(encrypted("")).unwrap();
    assert_same("empty user password", &got, &pattern(W, H), 0);
}

#[test]
fn encrypted_with_real_password_is_a_clear_error() {
    let err = page_image(encrypted("mật khẩu")).unwrap_err();
    assert!(err.contains("encrypted PDF"), "{err}");
}
