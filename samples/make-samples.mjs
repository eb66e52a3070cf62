// Renders the sample stills in this folder from SVG (run: node samples/make-samples.mjs).
import sharp from 'sharp';

const scenes = {
  'red-circle-on-stripes.png': `<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128">
    <defs><pattern id="s" width="16" height="16" patternUnits="userSpaceOnUse">
      <rect width="16" height="16" fill="#e8e0c8"/><rect width="8" height="16" fill="#9bb0c8"/></pattern></defs>
    <rect width="128" height="128" fill="url(#s)"/>
    <circle cx="64" cy="60" r="30" fill="#d03030"/></svg>`,
  'red-circle-mask.png': `<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128">
    <rect width="128" height="128" fill="#000"/><circle cx="64" cy="60" r="30" fill="#fff"/></svg>`,
  'blue-square-and-star.png': `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120">
    <defs><linearGradient id="g"><stop offset="0" stop-color="#304050"/><stop offset="1" stop-color="#a0b0a0"/></linearGradient></defs>
    <rect width="160" height="120" fill="url(#g)"/>
    <rect x="20" y="30" width="50" height="50" fill="#2050d0"/>
    <polygon points="120,20 130,50 160,50 135,68 145,98 120,80 95,98 105,68 80,50 110,50" fill="#f0d020"/></svg>`,
};

for (const [name, svg] of Object.entries(scenes)) {
  await sharp(Buffer.from(svg)).png().toFile(new URL(name, import.meta.url).pathname);
}
