// sqnn_ge: signed comparison x >= e of two W-bit two's complement words (fixed core, never generated).
//
// Written bit by bit from the LSB on the offset-binary words (MSB flipped), as plain logic: when e is a
// constant (an edge or a threshold), synthesis folds it into about W/5 LUT6 without a carry chain.
`default_nettype none
module sqnn_ge (x, e, ge);
  parameter W = 2;

  input  wire [W-1:0] x;
  input  wire [W-1:0] e;
  output reg          ge;

  wire [W-1:0] xo = x ^ {1'b1, {(W - 1){1'b0}}};
  wire [W-1:0] eo = e ^ {1'b1, {(W - 1){1'b0}}};
  integer b;
  always @* begin
    ge = 1'b1;
    for (b = 0; b < W; b = b + 1)
      ge = (xo[b] & ~eo[b]) | (~(xo[b] ^ eo[b]) & ge);
  end
endmodule
`default_nettype wire
