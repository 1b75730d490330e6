from mimeia_console.cli import main

main()
