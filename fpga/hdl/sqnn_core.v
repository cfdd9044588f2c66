// sqnn_core: fully pipelined deterministic inference of a binary SQNN (fixed core, never generated).
//
// Everything model-specific comes from the generated `sqnn_params.vh` (localparams, `include`d below; put
// the project folder on the include path) and the $readmemh files it names, looked up in PARAM_DIR.
//
//   clk, rst                         rising-edge clock, synchronous active-high reset (clears valids only)
//   in_valid, in_features            one feature vector per clock; feature f is the two's complement
//                                    FEATURE_BITS-bit field in_features[f*FEATURE_BITS +: FEATURE_BITS]
//   out_valid                        in_valid delayed by LATENCY clocks
//   out_score                        output o is the signed field out_score[o*SCORE_BITS +: SCORE_BITS]
//                                    = dot_o + bias_o (for N_OUT = 1: simply signed [SCORE_BITS-1:0])
//   out_class, out_index             N_OUT = 1: out_class = out_index = (score >= CLASS_THR), i.e.
//                                    sigmoid(scale * score + offset) >= 0.5 (the writer folds the cut exactly);
//                                    N_OUT >= 2: out_index = argmax_o score_o (first maximum on ties, as
//                                    numpy.argmax), out_class = its one-hot code
//
// STOCHASTIC = 1 (optional mode, see sqnn_layer.v): every hidden neuron fires with its probability theta,
// drawn from its own LFSR, instead of theta >= 0.5; the output layer stays deterministic.
//
// Pipeline: input register (1) -> thermometer comparators (1) -> N_LAYERS x (counts of the selected inputs
// (1), threshold compare (1)) -> output layer (2).  LATENCY = 4 + 2 * N_LAYERS, N_LAYERS in 0..3.
// Which inputs each neuron counts (its weights) is structure in sqnn_struct.vh: per layer a shared adder graph
// (sqnn_graph.v) and the sign each neuron counts (sqnn_pol).
//
// Memory files: PARAM_DIR defaults to the macro SQNN_PARAM_DIR if defined, else "." (the simulator's or
// synthesis tool's working directory).  Override the parameter or pass -DSQNN_PARAM_DIR="\"/path\"".
`default_nettype none
`ifndef SQNN_PARAM_DIR
  `define SQNN_PARAM_DIR "."
`endif
module sqnn_core (clk, rst, in_valid, in_features, out_valid, out_score, out_class, out_index);
  parameter PARAM_DIR = `SQNN_PARAM_DIR;

  /* verilator lint_off UNUSEDPARAM */
  `include "sqnn_params.vh"
  /* verilator lint_on UNUSEDPARAM */

  localparam CORE_LATENCY = 4 + 2 * N_LAYERS;

  input  wire                               clk;
  input  wire                               rst;
  input  wire                               in_valid;
  input  wire [N_FEATURES*FEATURE_BITS-1:0] in_features;
  output wire                               out_valid;
  output wire [N_OUT*SCORE_BITS-1:0]        out_score;
  output wire [N_OUT-1:0]                   out_class;
  output wire [INDEX_BITS-1:0]              out_index;

  // Elaboration-time consistency checks: a mismatch instantiates a module that does not exist.
  generate
    if (CORE_LATENCY != LATENCY) begin : g_err_latency
      sqnn_params_latency_mismatch u_error ();
    end
    if (N_LAYERS < 0 || N_LAYERS > 3) begin : g_err_layers
      sqnn_params_unsupported_layer_count u_error ();
    end
  endgenerate

  // Valid shift register.
  reg [LATENCY-1:0] valid_sr;
  always @(posedge clk) begin
    if (rst) valid_sr <= {LATENCY{1'b0}};
    else     valid_sr <= {valid_sr[LATENCY-2:0], in_valid};
  end
  assign out_valid = valid_sr[LATENCY-1];

  // Stage 0: input register.
  reg [N_FEATURES*FEATURE_BITS-1:0] features_r;
  always @(posedge clk) features_r <= in_features;

  // Stage 1: thermometer code.
  wire [N_THERM-1:0] h0;
  sqnn_thermometer #(
    .N_FEATURES(N_FEATURES), .FEATURE_BITS(FEATURE_BITS), .EDGE_BITS(EDGE_BITS), .N_THERM(N_THERM),
    .FIDX_BITS(FIDX_BITS), .EFILE({PARAM_DIR, "/edges.mem"}), .FFILE({PARAM_DIR, "/edge_feature.mem"})
  ) u_therm (.clk(clk), .features(features_r), .therm(h0));

  // Hidden layers: a fixed chain of three slots; slots at or beyond N_LAYERS are wires (identity bypass).
  wire [L0_M-1:0] h1;
  wire [L1_M-1:0] h2;
  wire [L2_M-1:0] h3;
  generate
    if (N_LAYERS >= 1) begin : g_layer0
      sqnn_layer #(.LAYER(0), .K(N_THERM), .M(L0_M), .THR_BITS(L0_THR_BITS),
                   .TFILE({PARAM_DIR, "/layer0_thresholds.mem"}),
                   .STOCHASTIC(STOCHASTIC), .RNG_BITS(RNG_BITS), .NOISE_BITS(L0_NOISE_BITS),
                   .NFILE({PARAM_DIR, "/layer0_noise.mem"}), .SFILE({PARAM_DIR, "/layer0_seeds.mem"})
      ) u_layer (.clk(clk), .rst(rst), .in_bits(h0), .out_bits(h1));
    end else begin : g_skip0
      if (L0_M != N_THERM) begin : g_err_bypass
        sqnn_params_bypass_width_mismatch u_error ();
      end
      assign h1 = h0;   // absent layer: identity bypass (the writer sets L0_M = N_THERM)
    end
    if (N_LAYERS >= 2) begin : g_layer1
      sqnn_layer #(.LAYER(1), .K(L0_M), .M(L1_M), .THR_BITS(L1_THR_BITS),
                   .TFILE({PARAM_DIR, "/layer1_thresholds.mem"}),
                   .STOCHASTIC(STOCHASTIC), .RNG_BITS(RNG_BITS), .NOISE_BITS(L1_NOISE_BITS),
                   .NFILE({PARAM_DIR, "/layer1_noise.mem"}), .SFILE({PARAM_DIR, "/layer1_seeds.mem"})
      ) u_layer (.clk(clk), .rst(rst), .in_bits(h1), .out_bits(h2));
    end else begin : g_skip1
      if (L1_M != L0_M) begin : g_err_bypass
        sqnn_params_bypass_width_mismatch u_error ();
      end
      assign h2 = h1;   // absent layer: identity bypass (the writer sets L1_M = L0_M)
    end
    if (N_LAYERS >= 3) begin : g_layer2
      sqnn_layer #(.LAYER(2), .K(L1_M), .M(L2_M), .THR_BITS(L2_THR_BITS),
                   .TFILE({PARAM_DIR, "/layer2_thresholds.mem"}),
                   .STOCHASTIC(STOCHASTIC), .RNG_BITS(RNG_BITS), .NOISE_BITS(L2_NOISE_BITS),
                   .NFILE({PARAM_DIR, "/layer2_noise.mem"}), .SFILE({PARAM_DIR, "/layer2_seeds.mem"})
      ) u_layer (.clk(clk), .rst(rst), .in_bits(h2), .out_bits(h3));
    end else begin : g_skip2
      if (L2_M != L1_M) begin : g_err_bypass
        sqnn_params_bypass_width_mismatch u_error ();
      end
      assign h3 = h2;   // absent layer: identity bypass (the writer sets L2_M = L1_M)
    end
  endgenerate

  // Output layer on the last stage.
  generate
    if (OUT_K != L2_M) begin : g_err_out
      sqnn_params_output_width_mismatch u_error ();
    end
  endgenerate

  sqnn_output #(.K(OUT_K), .N_OUT(N_OUT), .SCORE_BITS(SCORE_BITS), .CLASS_THR(CLASS_THR),
                .INDEX_BITS(INDEX_BITS), .BFILE({PARAM_DIR, "/output_bias.mem"})
  ) u_out (.clk(clk), .in_bits(h3), .scores(out_score), .classes(out_class), .index(out_index));
endmodule
`default_nettype wire
