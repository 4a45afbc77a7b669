// Kernel table entries of kernels/recurrent.h (RNN, GRU, LSTM; the packed
// kernels are defined in kernels/fast_recurrent.cpp).
#include <cstddef>
#include <string>

#include "kernels/recurrent.h"
#include "kernels/table.h"

namespace rtml::kernels {

namespace {

// The cell's params: act[2][3] is an array of structs, which the builder
// does not walk, so its members are listed one by one ("act[1][2].alpha").
ParamsLayout recurrent_layout() {
  using R = rtml_recurrent_params;
  ParamsLayout l = layout<R>("rtml_recurrent_params")
                       .field("cell", &R::cell)
                       .field("seq_length", &R::seq_length)
                       .field("batch", &R::batch)
                       .field("input_size", &R::input_size)
                       .field("hidden", &R::hidden)
                       .field("num_directions", &R::num_directions)
                       .field("reverse", &R::reverse)
                       .field("layout", &R::layout)
                       .field("clip", &R::clip)
                       .field("linear_before_reset", &R::linear_before_reset)
                       .field("input_forget", &R::input_forget)
                       .field("seq_lens_i64", &R::seq_lens_i64)
                       .field("num_inputs", &R::num_inputs)
                       .field("num_outputs", &R::num_outputs)
                       .build();
  using A = rtml_rnn_activation;
  for (int d = 0; d < 2; ++d)
    for (int k = 0; k < 3; ++k) {
      const std::string at = "act[" + std::to_string(d) + "][" + std::to_string(k) + "].";
      const uint32_t base = static_cast<uint32_t>(offsetof(R, act) + (d * 3 + k) * sizeof(A));
      l.fields.push_back({at + "kind", FieldKind::I32, base + static_cast<uint32_t>(offsetof(A, kind)), {1, 1}});
      l.fields.push_back({at + "alpha", FieldKind::F32, base + static_cast<uint32_t>(offsetof(A, alpha)), {1, 1}});
      l.fields.push_back({at + "beta", FieldKind::F32, base + static_cast<uint32_t>(offsetof(A, beta)), {1, 1}});
    }
  return l;
}

}  // namespace

void add_recurrent_kernels(std::vector<KernelInfo>& t) {
  static const ParamsLayout cell = recurrent_layout();
  using P = rtml_packed_recurrent_params;
  static const ParamsLayout packed = layout<P>("rtml_packed_recurrent_params")
                                         .nested("r", &P::r, cell)
                                         .field("hp", &P::hp)
                                         .field("packed_slot", &P::packed_slot)
                                         .field("r_bias", &P::r_bias)
                                         .field("w_off", &P::w_off)
                                         .field("r_off", &P::r_off)
                                         .field("rh_off", &P::rh_off)
                                         .field("peep_off", &P::peep_off)
                                         .field("small_hidden", &P::small_hidden)
                                         .build();
  const char* ops = "X, W, R, B?, sequence_lens?, initial_h?, (initial_c?, P?,) Y?, Y_h?, (Y_c?,) scratch";
  const char* packed_ops =
      "X, W, R, B?, sequence_lens?, initial_h?, (initial_c?, P?,) Y?, Y_h?, (Y_c?,) packed, scratch";
  const char* src = "kernels/recurrent.cpp";
  const char* fast = "kernels/fast_recurrent.cpp";
  t.push_back({"rtml_f32_rnn__ref", rtml_f32_rnn__ref, &cell, ops, src, true});
  t.push_back({"rtml_f32_gru__ref", rtml_f32_gru__ref, &cell, ops, src, true});
  t.push_back({"rtml_f32_lstm__ref", rtml_f32_lstm__ref, &cell, ops, src, true});
  t.push_back({"rtml_f32_rnn__packed_hwy", rtml_f32_rnn__packed_hwy, &packed, packed_ops, fast, false});
  t.push_back({"rtml_f32_gru__packed_hwy", rtml_f32_gru__packed_hwy, &packed, packed_ops, fast, false});
  t.push_back({"rtml_f32_lstm__packed_hwy", rtml_f32_lstm__packed_hwy, &packed, packed_ops, fast, false});
  const char* small_ops = "X, W, R, B?, sequence_lens?, initial_h?, (initial_c?,) Y?, Y_h?, (Y_c?,) packed";
  t.push_back({"rtml_f32_gru_h8__hwy", rtml_f32_gru_h8__hwy, &packed, small_ops, fast, false});
  t.push_back({"rtml_f32_gru_h16__hwy", rtml_f32_gru_h16__hwy, &packed, small_ops, fast, false});
  t.push_back({"rtml_f32_gru_h32__hwy", rtml_f32_gru_h32__hwy, &packed, small_ops, fast, false});
  t.push_back({"rtml_f32_lstm_h8__hwy", rtml_f32_lstm_h8__hwy, &packed, small_ops, fast, false});
  t.push_back({"rtml_f32_lstm_h16__hwy", rtml_f32_lstm_h16__hwy, &packed, small_ops, fast, false});
  t.push_back({"rtml_f32_lstm_h32__hwy", rtml_f32_lstm_h32__hwy, &packed, small_ops, fast, false});
  // Weight-only int8 (num_inputs counts every slot and the two scales).
  const char* w8_ops =
      "X, W int8, R int8, B?, sequence_lens?, initial_h?, (initial_c?, P?,) W_scale, R_scale, Y?, Y_h?, (Y_c?,) scratch";
  t.push_back({"rtml_f32_rnn_w8__ref", rtml_f32_rnn_w8__ref, &cell, w8_ops, src, true});
  t.push_back({"rtml_f32_gru_w8__ref", rtml_f32_gru_w8__ref, &cell, w8_ops, src, true});
  t.push_back({"rtml_f32_lstm_w8__ref", rtml_f32_lstm_w8__ref, &cell, w8_ops, src, true});
  t.push_back({"rtml_f32_rnn_w8__hwy", rtml_f32_rnn_w8__hwy, &cell, w8_ops, fast, false});
  t.push_back({"rtml_f32_gru_w8__hwy", rtml_f32_gru_w8__hwy, &cell, w8_ops, fast, false});
  t.push_back({"rtml_f32_lstm_w8__hwy", rtml_f32_lstm_w8__hwy, &cell, w8_ops, fast, false});
}

}  // namespace rtml::kernels
