/** Okabe–Ito: distinguishable with the common colour-vision deficiencies. */
export const okabeIto = {
  orange: '#E69F00',
  skyBlue: '#56B4E9',
  green: '#009E73',
  yellow: '#F0E442',
  blue: '#0072B2',
  vermillion: '#D55E00',
  purple: '#CC79A7',
  grey: '#999999',
} as const;
/** In-distribution vs OOD, train vs validation: always blue vs vermillion/orange. */
export const series = [
  okabeIto.blue,
  okabeIto.vermillion,
  okabeIto.green,
  okabeIto.orange,
  okabeIto.purple,
  okabeIto.skyBlue,
];
