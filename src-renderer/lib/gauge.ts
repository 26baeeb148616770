/**
 * The entropy gauge's scales, shared by the cards and their legend: the entropy bar spans
 * 0 … ln(classes); the epistemic bar is the same quantity zoomed by this factor (spec §5: mutual
 * information is the epistemic part of the predictive entropy and is usually a small share of it).
 */
export const epistemicZoom = 4;
