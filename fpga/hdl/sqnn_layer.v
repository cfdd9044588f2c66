// sqnn_layer: one binary hidden layer (fixed core, never generated).
//
// Neuron j has +-1 weights w_ji over the K input bits t_i (bit 1 means +1) and fires on
//   dot_j = sum_i w_ji (2 t_i - 1) >= thr_j.
// Only the inputs of one weight sign are counted: with T = popcount(t) and P_j the count of neuron j's inputs
// of weight +1 if sqnn_pol(LAYER, j) = 1, else of weight -1 (whichever are fewer; T and all P_j come from the
// layer's shared adder graph, sqnn_graph.v), dot_j + D_j = q_j with
//   q_j = 4 P_j - 2 T  (pol = 1)   or   2 T - 4 P_j  (pol = 0),     D_j = #(+1 weights) - #(-1 weights),
// so the writer stores thr'_j = thr_j + D_j and the neuron compares q_j - thr'_j = dot_j - thr_j:
//   deterministic (STOCHASTIC = 0):  out_bits[j] = (q_j - thr'_j >= 0), evaluated as (u_j >= CUT_j) xor INV_j
//                                    with u_j = 2 P_j - T and the constants sqnn_cut / sqnn_inv (the writer
//                                    folds thr'_j and the sign of q_j into them)
//   stochastic    (STOCHASTIC = 1):  out_bits[j] = (q_j - thr'_j >= noise[r_j])   r_j: RNG_BITS fresh LFSR bits
//
// In stochastic mode every neuron owns a 31-bit Fibonacci LFSR (x^31 + x^28 + 1, seed from SFILE) that advances
// RNG_BITS steps per clock; r_j is its RNG_BITS newest bits.  The noise ROM (NFILE, 2^RNG_BITS signed words)
// holds the inverse CDF written by fpga.render_memories, so P(bit = 1 | z) = #{u : noise[u] <= z} / 2^RNG_BITS,
// the neuron's probability theta(z) quantised to RNG_BITS bits.
//
// The selections (as the adder graph of sqnn_graph.v, sqnn_pol) and cuts are structural constants of
// sqnn_struct.vh; in stochastic mode the threshold ROM TFILE holds M signed THR_BITS-bit words thr'_j.
// Pipeline: the counts P_j and T (first part of the graph registered, 1 clock), then the rest of the graph,
// q_j and the compare (1 clock).  Latency: 2 clocks.
`default_nettype none
module sqnn_layer (clk, rst, in_bits, out_bits);
  parameter LAYER      = 0;    // slot of this layer in sqnn_params.vh (0..2)
  parameter K          = 1;    // input width
  parameter M          = 1;    // number of neurons
  parameter THR_BITS   = 2;    // signed width of thr' (in [-2K, 2K + 1])
  parameter STOCHASTIC = 0;
  parameter RNG_BITS   = 8;    // 1..31
  parameter NOISE_BITS = 2;    // signed width of the noise ROM words
  parameter TFILE      = "layer0_thresholds.mem";
  parameter NFILE      = "layer0_noise.mem";
  parameter SFILE      = "layer0_seeds.mem";

  /* verilator lint_off UNUSEDPARAM */
  `include "sqnn_struct.vh"
  /* verilator lint_on UNUSEDPARAM */

  function integer sqnn_clog2;
    input integer v;
    integer r;
    begin
      r = 0;
      while ((1 << r) < v) r = r + 1;
      sqnn_clog2 = r;
    end
  endfunction

  localparam CW0 = sqnn_clog2(K + 1);
  localparam CW  = (CW0 < 3) ? 3 : CW0;                                  // width of T and P_j
  localparam QW0 = (CW + 3 > THR_BITS) ? CW + 3 : THR_BITS;
  localparam QW  = ((QW0 > NOISE_BITS) ? QW0 : NOISE_BITS) + 2;          // signed width of q, z

  input  wire         clk;
  /* verilator lint_off UNUSEDSIGNAL */
  input  wire         rst;        // reseeds the LFSRs; unused in deterministic mode
  /* verilator lint_on UNUSEDSIGNAL */
  input  wire [K-1:0] in_bits;
  output reg  [M-1:0] out_bits;

  // Stochastic mode only (unused and never loaded when STOCHASTIC = 0).
  localparam NDEPTH = (STOCHASTIC != 0) ? (1 << RNG_BITS) : 1;
  localparam SDEPTH = (STOCHASTIC != 0) ? M : 1;
  /* verilator lint_off UNUSEDSIGNAL */
  /* verilator lint_off UNDRIVEN */
  reg [THR_BITS-1:0]   t_rom [0:SDEPTH-1];
  reg [NOISE_BITS-1:0] n_rom [0:NDEPTH-1];
  reg [30:0]           s_rom [0:SDEPTH-1];
  /* verilator lint_on UNDRIVEN */
  /* verilator lint_on UNUSEDSIGNAL */
  generate
    if (STOCHASTIC != 0) begin : g_load
      initial begin
        $readmemh(TFILE, t_rom, 0, M - 1);
        $readmemh(NFILE, n_rom, 0, NDEPTH - 1);
        $readmemh(SFILE, s_rom, 0, SDEPTH - 1);
      end
    end
  endgenerate

  // T (all inputs) and every neuron's selected count P_j from the layer's shared adder graph (sqnn_graph.v):
  // partial sums of the first clock are registered, the rest is added in the second clock.
  wire [(M+1)*CW-1:0] counts;
  sqnn_graph #(.SLOT(LAYER), .K(K), .ROWS(M + 1), .CW(CW)) u_graph (.clk(clk), .in_bits(in_bits), .counts(counts));
  wire [CW-1:0] t_r = counts[CW-1:0];
  /* verilator lint_off UNUSEDSIGNAL */
  wire signed [QW-1:0] t2 = $signed({{(QW - CW - 1){1'b0}}, t_r, 1'b0});   // stochastic mode only
  /* verilator lint_on UNUSEDSIGNAL */

  genvar j;
  generate
    for (j = 0; j < M; j = j + 1) begin : g_neuron
      localparam POL = sqnn_pol(LAYER, j);
      wire [CW-1:0] p_r = counts[(j+1)*CW +: CW];

      if (STOCHASTIC != 0) begin : g_rng
        // Stage B: q = +-(4 P - 2 T), z = q - thr', compare with the noise of this clock.
        wire signed [QW-1:0] p4 = $signed({{(QW - CW - 2){1'b0}}, p_r, 2'b00});
        wire signed [QW-1:0] q = (POL != 0) ? p4 - t2 : t2 - p4;
        wire signed [QW-1:0] thr = $signed({{(QW - THR_BITS){t_rom[j][THR_BITS-1]}}, t_rom[j]});
        wire signed [QW-1:0] z = q - thr;
        reg  [30:0] lfsr;
        reg  [30:0] lfsr_next;
        integer s;
        always @* begin
          lfsr_next = lfsr;
          for (s = 0; s < RNG_BITS; s = s + 1)
            lfsr_next = {lfsr_next[29:0], lfsr_next[30] ^ lfsr_next[27]};
        end
        always @(posedge clk) begin
          if (rst || lfsr == 31'd0) lfsr <= s_rom[j];   // (re)seed; 0 is the LFSR's dead state
          else                      lfsr <= lfsr_next;
        end
        wire [NOISE_BITS-1:0] noise = n_rom[lfsr[RNG_BITS-1:0]];
        wire signed [QW-1:0] cut = $signed({{(QW - NOISE_BITS){noise[NOISE_BITS-1]}}, noise});
        always @(posedge clk) out_bits[j] <= (z >= cut);
      end else begin : g_det
        // Stage B: u = 2 P - T against the constant cut of sqnn_struct.vh (no threshold ROM):
        // dot >= thr  <=>  (u >= CUT) xor INV, u >= CUT  <=>  the sign of z = 2 P - (T + CUT) is 0.
        // T + CUT (a constant add, carry chain only) is formed while the last adders of P settle (the graph
        // ends T's tree early), so one adder follows P.  |CUT| <= K + 1 and P <= T <= K < 2^CW, so T + CUT and
        // z fit in CW + 3 signed bits.
        localparam integer CUT_I = sqnn_cut(LAYER, j);
        localparam signed [CW+2:0] CUT = CUT_I[CW+2:0];
        localparam INV = sqnn_inv(LAYER, j);
        wire signed [CW+2:0] tc = $signed({3'b000, t_r}) + CUT;
        /* verilator lint_off UNUSEDSIGNAL */  // only the sign is used
        wire signed [CW+2:0] z = $signed({2'b00, p_r, 1'b0}) - tc;
        /* verilator lint_on UNUSEDSIGNAL */
        always @(posedge clk) out_bits[j] <= ~z[CW+2] ^ (INV != 0);
      end
    end
  endgenerate
endmodule
`default_nettype wire
