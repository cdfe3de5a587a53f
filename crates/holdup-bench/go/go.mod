module holdupbench

go 1.25
