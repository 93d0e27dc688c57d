/* hq_loss.c: mean squared error and softmax cross-entropy, with their gradients. */
#include <math.h>

#include "kernels_int.h"

int hq_loss_mse(const float *pred, const float *target, size_t rows, size_t cols, float *out_loss,
                float *dpred) {
  if (!pred || !target || !out_loss) return hq__kerr(HQ_MISUSE_BKPT, "loss_mse: NULL argument");
  if (rows == 0 || cols == 0)
    return hq__kerr(HQ_EINVAL, "loss_mse: rows or cols 0");
  const size_t n = rows * cols;
  const float scale = 2.0f / (float)n;
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    float diff = pred[i] - target[i];
    sum += (double)diff * (double)diff;
    if (dpred) dpred[i] = scale * diff;
  }
  *out_loss = (float)(sum / (double)n);
  return HQ_OK;
}

int hq_loss_softmax_xent(const float *logits, const int32_t *labels, size_t rows, size_t classes,
                         float *out_loss, float *dlogits) {
  if (!logits || !labels || !out_loss) return hq__kerr(HQ_MISUSE_BKPT, "loss_softmax_xent: NULL argument");
  if (rows == 0 || classes == 0)
    return hq__kerr(HQ_EINVAL, "loss_softmax_xent: rows or classes 0");
  for (size_t r = 0; r < rows; r++)
    if (labels[r] < 0 || (size_t)labels[r] >= classes)
      return hq__kerr(HQ_EINVAL, "loss_softmax_xent: label %d of row %zu is not a class", labels[r], r);
  double total = 0.0;
  const double inv_rows = 1.0 / (double)rows;
  for (size_t r = 0; r < rows; r++) {
    const float *z = logits + r * classes;
    float max = z[0];
    for (size_t c = 1; c < classes; c++) max = z[c] > max ? z[c] : max;
    double sum = 0.0;
    for (size_t c = 0; c < classes; c++) sum += exp((double)z[c] - (double)max);
    const double log_sum = log(sum);
    total += log_sum - ((double)z[labels[r]] - (double)max);
    if (!dlogits) continue;
    float *d = dlogits + r * classes;
    for (size_t c = 0; c < classes; c++) {
      double p = exp((double)z[c] - (double)max - log_sum);
      d[c] = (float)((p - ((size_t)labels[r] == c ? 1.0 : 0.0)) * inv_rows);
    }
  }
  *out_loss = (float)(total * inv_rows);
  return HQ_OK;
}
