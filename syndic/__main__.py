from syndic.cli import main

main()
