//! Raster files: TIFF in its scanner encodings (multi-page, G4, LZW, Deflate,
//! uncompressed, 1-bit, 8-bit, RGB), and single images with their resolution.

use crate::support::{bilevel_pattern, pattern, repo_path};
use image::GrayImage;
use sohoa::load::{self, Limits, LoadedPage, OcrMode, PageContent};
use std::io::Cursor;
use std::sync::Arc;
use tiff::encoder::{Compression, DeflateLevel, TiffEncoder, colortype};

fn pages(bytes: Vec<u8>) -> Vec<LoadedPage> {
    let (_, mut source) = load::open(Arc::new(bytes), &Limits::default()).expect("open");
    (0..source.page_count())
        .map(|i| source.load_page(i, OcrMode::Auto).expect("page"))
        .collect()
}

fn image_of(page: &LoadedPage) -> &GrayImage {
    match &page.content {
        PageContent::Ocr(img) => img,
        _ => panic!("page {} is not an image", page.number),
    }
}

/// Compares a page with the expected pixels, within `tolerance` levels.
fn check(page: &LoadedPage, expect: &GrayImage, tolerance: u8, name: &str) {
    let got = image_of(page);
    assert_eq!(got.dimensions(), expect.dimensions(), "{name}");
    let worst = got
        .pixels()
        .zip(expect.pixels())
        .map(|(a, b)| a.0[0].abs_diff(b.0[0]))
        .max()
        .unwrap();
    assert!(worst <= tolerance, "{name}: off by {worst}");
}

#[test]
fn multi_page_tiff_in_every_compression() {
    let gray = pattern(40, 30);
    let rgb = image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 8) as u8, 77])
    });
    // TIFF RGB is turned to gray with Rec. 601 weights, as the PDF path does.
    let rgb_as_gray = GrayImage::from_fn(40, 30, |x, y| {
        let p = rgb.get_pixel(x, y);
        image::Luma([((299 * p[0] as u32 + 587 * p[1] as u32 + 114 * p[2] as u32) / 1000) as u8])
    });
    let mut bytes = Vec::new();
    {
        let mut enc = TiffEncoder::new(Cursor::new(&mut bytes))
            .unwrap()
            .with_compression(Compression::Lzw);
        enc.write_image::<colortype::Gray8>(40, 30, gray.as_raw())
            .unwrap();
        enc.write_image::<colortype::RGB8>(40, 30, rgb.as_raw())
            .unwrap();
        enc.write_image::<colortype::Gray8>(40, 30, gray.as_raw())
            .unwrap();
    }
    let got = pages(bytes);
    assert_eq!(got.len(), 3);
    check(&got[0], &gray, 0, "LZW gray page 1");
    check(&got[1], &rgb_as_gray, 1, "LZW RGB page 2");
    check(&got[2], &gray, 0, "LZW gray page 3");

    for (name, compression) in [
        ("Deflate", Compression::Deflate(DeflateLevel::Balanced)),
        ("uncompressed", Compression::Uncompressed),
        ("PackBits", Compression::Packbits),
    ] {
        let mut bytes = Vec::new();
        TiffEncoder::new(Cursor::new(&mut bytes))
            .unwrap()
            .with_compression(compression)
            .write_image::<colortype::RGB8>(40, 30, rgb.as_raw())
            .unwrap();
        check(&pages(bytes)[0], &rgb_as_gray, 1, name);
    }
}

/// A minimal uncompressed 1-bit TIFF, as old scanners write, with the given photometric
/// interpretation (0: WhiteIsZero, 1: BlackIsZero).
fn bilevel_tiff(img: &GrayImage, photometric: u16) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let row_bytes = w.div_ceil(8) as usize;
    let mut data = vec![0u8; row_bytes * h as usize];
    for (x, y, p) in img.enumerate_pixels() {
        let black = p.0[0] < 128;
        let bit = if photometric == 0 { black } else { !black };
        if bit {
            data[y as usize * row_bytes + x as usize / 8] |= 0x80 >> (x % 8);
        }
    }
    let entries: [(u16, u16, u32); 9] = [
        (256, 4, w),
        (257, 4, h),
        (258, 3, 1),
        (259, 3, 1),
        (262, 3, photometric as u32),
        (273, 4, 0), // strip offset, patched below
        (277, 3, 1),
        (278, 4, h),
        (279, 4, data.len() as u32),
    ];
    let ifd_len = 2 + entries.len() * 12 + 4;
    let data_offset = (8 + ifd_len) as u32;
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        let value = if tag == 273 { data_offset } else { value };
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        if kind == 3 {
            out.extend_from_slice(&(value as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
        } else {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&data);
    out
}

#[test]
fn one_bit_tiff_in_both_polarities() {
    let img = bilevel_pattern(45, 20);
    check(
        &pages(bilevel_tiff(&img, 0))[0],
        &img,
        0,
        "1-bit WhiteIsZero",
    );
    check(
        &pages(bilevel_tiff(&img, 1))[0],
        &img,
        0,
        "1-bit BlackIsZero",
    );
}

#[test]
fn g4_sample_has_two_white_pages_at_300_dpi() {
    let bytes = std::fs::read(repo_path("samples/don-dang-ky-dat.tif")).unwrap();
    let got = pages(bytes);
    assert_eq!(got.len(), 2);
    for page in &got {
        let img = image_of(page);
        let mean = img.pixels().map(|p| p.0[0] as u64).sum::<u64>() / img.pixels().len() as u64;
        assert!(
            mean > 200,
            "page {} is mostly white paper, mean {mean}",
            page.number
        );
        assert!(
            img.pixels().any(|p| p.0[0] == 0),
            "page {} has ink",
            page.number
        );
        assert_eq!(page.dpi, Some(300.0));
    }
}

#[test]
fn single_images_know_their_resolution() {
    for (file, dpi) in [
        ("samples/quyet-dinh-dat-dai.png", 300.0),
        ("samples/cong-van-bao-hiem.jpg", 300.0),
    ] {
        let got = pages(std::fs::read(repo_path(file)).unwrap());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].dpi, Some(dpi), "{file}");
        assert_eq!(got[0].width, Some(2480), "{file}");
    }
}

#[test]
fn format_comes_from_bytes_not_the_name() {
    use sohoa::load::{Format, detect};
    for (bytes, expect) in [
        (&b"%PDF-1.7\n"[..], Some(Format::Pdf)),
        (&b"\xef\xbb\xbfjunk %PDF-1.4"[..], Some(Format::Pdf)),
        (&b"\x89PNG\r\n\x1a\n...."[..], Some(Format::Png)),
        (&b"\xff\xd8\xff\xe0"[..], Some(Format::Jpeg)),
        (&b"II*\0\x08\0\0\0"[..], Some(Format::Tiff)),
        (&b"MM\0*\0\0\0\x08"[..], Some(Format::Tiff)),
        (&b"GIF89a"[..], Some(Format::Gif)),
        (&b"Kinh gui: van ban"[..], None),
        (&b""[..], None),
    ] {
        assert_eq!(
            detect(bytes),
            expect,
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}
