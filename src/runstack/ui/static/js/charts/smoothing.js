// Exponential moving average with the start-up bias removed (the first points are not pulled
// towards zero). Missing and non-finite values stay missing and do not move the average.

export function ema(values, weight) {
  if (!(weight > 0)) return values;
  let last = 0;
  let count = 0;
  return values.map((y) => {
    if (y === null || !Number.isFinite(y)) return null;
    count += 1;
    last = last * weight + (1 - weight) * y;
    return last / (1 - weight ** count);
  });
}
