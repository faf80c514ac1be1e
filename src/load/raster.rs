//! Raster files: single images through `image`, multi-page TIFF through `tiff`.

use super::{Format, Limits, LoadError, LoadedPage, OcrMode, PageContent, PageSource, Warning};
use image::GrayImage;
use std::io::Cursor;
use std::sync::Arc;
use tiff::ColorType;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::{ResolutionUnit, Tag};

/// A single-page image file (PNG, JPEG, GIF, BMP, WebP, PNM).
pub struct ImageSource {
    bytes: Arc<Vec<u8>>,
    format: Format,
    limits: Limits,
}

impl ImageSource {
    pub fn open(
        bytes: Arc<Vec<u8>>,
        format: Format,
        limits: &Limits,
    ) -> Result<ImageSource, LoadError> {
        // Read the header now, so a broken or absurd file fails at open, before any work.
        let (w, h) = image_reader(&bytes, format, limits)
            .into_dimensions()
            .map_err(|e| LoadError::BadImage(e.to_string()))?;
        limits.check_pixels(w, h)?;
        Ok(ImageSource {
            bytes,
            format,
            limits: limits.clone(),
        })
    }
}

fn image_reader<'a>(
    bytes: &'a [u8],
    format: Format,
    limits: &Limits,
) -> image::ImageReader<Cursor<&'a [u8]>> {
    let image_format = match format {
        Format::Png => image::ImageFormat::Png,
        Format::Jpeg => image::ImageFormat::Jpeg,
        Format::Gif => image::ImageFormat::Gif,
        Format::Bmp => image::ImageFormat::Bmp,
        Format::Webp => image::ImageFormat::WebP,
        Format::Pnm => image::ImageFormat::Pnm,
        Format::Pdf | Format::Tiff => image::ImageFormat::Tiff,
    };
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), image_format);
    reader.limits(limits.image_limits());
    reader
}

impl PageSource for ImageSource {
    fn page_count(&self) -> usize {
        1
    }

    fn load_page(&mut self, _index: usize, mode: OcrMode) -> Result<LoadedPage, LoadError> {
        let image = image_reader(&self.bytes, self.format, &self.limits)
            .decode()
            .map_err(|e| LoadError::BadImage(e.to_string()))?
            .to_luma8();
        let dpi = match self.format {
            Format::Png => png_dpi(&self.bytes),
            Format::Jpeg => jpeg_dpi(&self.bytes),
            _ => None,
        };
        let mut page = raster_page(1, image, dpi, mode);
        if self.format == Format::Jpeg && super::jpeg_is_cut(&self.bytes) {
            page.warnings.push(Warning::loss(
                Some(1),
                "the JPEG file is cut off before its end: the rest of the page is missing",
            ));
        }
        Ok(page)
    }
}

fn raster_page(number: u32, image: GrayImage, dpi: Option<f32>, mode: OcrMode) -> LoadedPage {
    let (width, height) = (Some(image.width()), Some(image.height()));
    let content = match mode {
        OcrMode::Skip => PageContent::Empty {
            reason: "image not read: OCR is skipped (--ocr skip)".into(),
        },
        _ => PageContent::Ocr(image),
    };
    LoadedPage {
        number,
        content,
        width,
        height,
        dpi,
        warnings: Vec::new(),
    }
}

/// PNG `pHYs`: pixels per metre when the unit byte is 1.
fn png_dpi(bytes: &[u8]) -> Option<f32> {
    let mut pos = 8;
    while pos + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().ok()?) as usize;
        let kind = &bytes[pos + 4..pos + 8];
        if kind == b"pHYs" && len >= 9 && pos + 17 <= bytes.len() {
            let ppm = u32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().ok()?);
            return (bytes[pos + 16] == 1 && ppm > 0).then(|| (ppm as f32 * 0.0254).round());
        }
        if kind == b"IDAT" {
            return None;
        }
        pos += 12 + len;
    }
    None
}

/// JPEG JFIF APP0 density.
fn jpeg_dpi(bytes: &[u8]) -> Option<f32> {
    if bytes.len() > 18 && &bytes[2..4] == b"\xFF\xE0" && &bytes[6..11] == b"JFIF\0" {
        let unit = bytes[13];
        let x = u16::from_be_bytes([bytes[14], bytes[15]]) as f32;
        return match unit {
            1 if x > 0.0 => Some(x),
            2 if x > 0.0 => Some((x * 2.54).round()),
            _ => None,
        };
    }
    None
}

/// A TIFF file, one page per image directory, decoded in order.
pub struct TiffSource {
    decoder: Decoder<Cursor<SharedBytes>>,
    pages: usize,
    /// Index of the directory the decoder is on.
    current: usize,
    limits: Limits,
}

/// The file's bytes, shared with the pipeline that hashed them, readable by a `Cursor`.
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl TiffSource {
    pub fn open(bytes: Arc<Vec<u8>>, limits: &Limits) -> Result<TiffSource, LoadError> {
        let bad = |e: tiff::TiffError| LoadError::BadImage(format!("TIFF: {e}"));
        let mut tiff_limits = tiff::decoder::Limits::default();
        tiff_limits.decoding_buffer_size =
            usize::try_from(limits.max_decoded_bytes).unwrap_or(usize::MAX);
        // Count the pages first: cheap (directories only) and it bounds the work.
        let mut counter = Decoder::new(Cursor::new(SharedBytes(bytes.clone()))).map_err(bad)?;
        let mut pages = 1;
        while counter.more_images() {
            counter.next_image().map_err(bad)?;
            pages += 1;
            if pages > limits.max_pages {
                return Err(LoadError::TooLarge(format!(
                    "more than {} pages",
                    limits.max_pages
                )));
            }
        }
        let decoder = Decoder::new(Cursor::new(SharedBytes(bytes)))
            .map_err(bad)?
            .with_limits(tiff_limits);
        Ok(TiffSource {
            decoder,
            pages,
            current: 0,
            limits: limits.clone(),
        })
    }
}

impl PageSource for TiffSource {
    fn page_count(&self) -> usize {
        self.pages
    }

    fn load_page(&mut self, index: usize, mode: OcrMode) -> Result<LoadedPage, LoadError> {
        let bad = |e: tiff::TiffError| LoadError::BadImage(format!("TIFF page {}: {e}", index + 1));
        if index != self.current {
            self.decoder.seek_to_image(index).map_err(bad)?;
            self.current = index;
        }
        let (width, height) = self.decoder.dimensions().map_err(bad)?;
        self.limits.check_pixels(width, height)?;
        let dpi = tiff_dpi(&mut self.decoder);
        let page = if mode == OcrMode::Skip {
            LoadedPage {
                number: index as u32 + 1,
                content: PageContent::Empty {
                    reason: "image not read: OCR is skipped (--ocr skip)".into(),
                },
                width: Some(width),
                height: Some(height),
                dpi,
                warnings: Vec::new(),
            }
        } else {
            let color = self.decoder.colortype().map_err(bad)?;
            let data = self.decoder.read_image().map_err(bad)?;
            let image = tiff_to_gray(width, height, color, data).map_err(|reason| {
                LoadError::BadImage(format!("TIFF page {}: {reason}", index + 1))
            })?;
            raster_page(index as u32 + 1, image, dpi, mode)
        };
        if self.decoder.more_images() {
            self.decoder.next_image().map_err(bad)?;
            self.current = index + 1;
        }
        Ok(page)
    }
}

fn tiff_dpi<R: std::io::Read + std::io::Seek>(decoder: &mut Decoder<R>) -> Option<f32> {
    let x = match decoder.find_tag(Tag::XResolution).ok()?? {
        tiff::decoder::ifd::Value::Rational(n, d) if d > 0 => n as f32 / d as f32,
        other => other.into_f32().ok()?,
    };
    let unit = decoder
        .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
        .ok()
        .flatten()
        .and_then(ResolutionUnit::from_u16)
        .unwrap_or(ResolutionUnit::Inch);
    match unit {
        ResolutionUnit::Centimeter if x > 0.0 => Some((x * 2.54).round()),
        ResolutionUnit::Inch if x > 0.0 => Some(x),
        _ => None,
    }
}

/// TIFF samples to 8-bit gray. The decoder has already applied WhiteIsZero, so 0 is black.
fn tiff_to_gray(
    width: u32,
    height: u32,
    color: ColorType,
    data: DecodingResult,
) -> Result<GrayImage, String> {
    let (w, h) = (width as usize, height as usize);
    let bytes: Vec<u8> = match data {
        DecodingResult::U8(v) => v,
        DecodingResult::U16(v) => v.into_iter().map(|s| (s >> 8) as u8).collect(),
        _ => return Err(format!("unsupported sample format for {color:?}")),
    };
    let luma =
        |r: u8, g: u8, b: u8| ((299 * r as u32 + 587 * g as u32 + 114 * b as u32) / 1000) as u8;
    let mut out = GrayImage::new(width, height);
    match color {
        ColorType::Gray(bits @ (1 | 2 | 4)) => {
            let row_bytes = (w * bits as usize).div_ceil(8);
            let max = (1u32 << bits) - 1;
            for y in 0..h {
                let row = bytes
                    .get(y * row_bytes..(y + 1) * row_bytes)
                    .ok_or("short image data")?;
                for x in 0..w {
                    let bit = x * bits as usize;
                    let v = (row[bit / 8] >> (8 - bits as usize - bit % 8)) as u32 & max;
                    out.put_pixel(x as u32, y as u32, image::Luma([(v * 255 / max) as u8]));
                }
            }
        }
        ColorType::Gray(8 | 16) => {
            if bytes.len() < w * h {
                return Err("short image data".into());
            }
            out =
                GrayImage::from_raw(width, height, bytes[..w * h].to_vec()).ok_or("bad buffer")?;
        }
        ColorType::GrayA(8 | 16) => {
            for (i, px) in out.pixels_mut().enumerate() {
                px.0[0] = *bytes.get(2 * i).ok_or("short image data")?;
            }
        }
        ColorType::RGB(8 | 16) | ColorType::RGBA(8 | 16) => {
            let n = if matches!(color, ColorType::RGB(_)) {
                3
            } else {
                4
            };
            for (i, px) in out.pixels_mut().enumerate() {
                let p = bytes.get(n * i..n * i + 3).ok_or("short image data")?;
                px.0[0] = luma(p[0], p[1], p[2]);
            }
        }
        ColorType::CMYK(8) | ColorType::CMYKA(8) => {
            let n = if matches!(color, ColorType::CMYK(_)) {
                4
            } else {
                5
            };
            for (i, px) in out.pixels_mut().enumerate() {
                let p = bytes.get(n * i..n * i + 4).ok_or("short image data")?;
                let k = 255 - p[3] as u32;
                let ch = |c: u8| ((255 - c as u32) * k / 255) as u8;
                px.0[0] = luma(ch(p[0]), ch(p[1]), ch(p[2]));
            }
        }
        other => return Err(format!("unsupported colour type {other:?}")),
    }
    Ok(out)
}
