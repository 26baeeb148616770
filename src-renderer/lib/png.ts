/**
 * Charts as one PNG: each SVG (Observable Plot's output) is serialised, drawn on a canvas side by
 * side with its caption, and the canvas encoded. Plot's default rules live in the page's
 * stylesheet, which an SVG drawn as an image does not see, so the few that matter are set inline.
 */

function loadSvg(svg: SVGSVGElement): Promise<{ image: HTMLImageElement; width: number; height: number }> {
  const clone = svg.cloneNode(true) as SVGSVGElement;
  const box = svg.getBoundingClientRect();
  const width = Number(svg.getAttribute('width')) || box.width || 320;
  const height = Number(svg.getAttribute('height')) || box.height || 260;
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  clone.setAttribute('width', String(width));
  clone.setAttribute('height', String(height));
  clone.setAttribute('font-family', 'system-ui, sans-serif');
  clone.setAttribute('font-size', '10');
  const text = new XMLSerializer().serializeToString(clone);
  const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => {
      URL.revokeObjectURL(url);
      resolve({ image, width, height });
    };
    image.onerror = () => {
      URL.revokeObjectURL(url);
      reject(new Error('a chart could not be drawn as an image'));
    };
    image.src = url;
  });
}

/** The charts side by side on white, each with its caption above, as PNG bytes. */
export async function chartsToPng(
  charts: { svg: SVGSVGElement; caption: string }[],
  scale = 2,
): Promise<Blob> {
  if (!charts.length) throw new Error('no charts to save');
  const loaded = await Promise.all(charts.map((c) => loadSvg(c.svg)));
  const gap = 16;
  const captionHeight = 24;
  const width = loaded.reduce((s, l) => s + l.width, 0) + gap * (loaded.length + 1);
  const height = Math.max(...loaded.map((l) => l.height)) + captionHeight + gap * 2;
  const canvas = document.createElement('canvas');
  canvas.width = Math.ceil(width * scale);
  canvas.height = Math.ceil(height * scale);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser cannot draw on a canvas');
  ctx.scale(scale, scale);
  ctx.fillStyle = 'white';
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = 'black';
  ctx.font = '14px system-ui, sans-serif';
  let x = gap;
  loaded.forEach((l, i) => {
    ctx.fillText(charts[i]!.caption, x, gap + 14);
    ctx.drawImage(l.image, x, gap + captionHeight, l.width, l.height);
    x += l.width + gap;
  });
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the PNG could not be encoded'))), 'image/png'),
  );
}
